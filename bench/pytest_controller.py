"""The xdist controller's side of a multi-board run: one record, the workers' tests merged into it."""
from __future__ import annotations

from typing import Any

import pytest

from bench.config import load_target
from bench.pytest_record import RECORD, new_record, persist_record
from bench.pytest_workers import merge_worker, received_test


class Controller:
    """Registered by the plugin on the controller only (``bench.pytest_workers``); it runs no test."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from bench import signals

        new_record(self.config, load_target(self.config.getoption("--target")), 0)
        signals.reset()
        signals.install()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        record = self.config.stash.get(RECORD, None)
        if record is not None:
            record.planned = max(record.planned, len(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.config.stash.get(RECORD, None)
        test = received_test(report) if report.when == "teardown" else None
        if record is not None and test is not None:
            record.tests.append(test)
            persist_record(record)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        record = self.config.stash.get(RECORD, None)
        if record is not None:
            merge_worker(record, getattr(node, "workeroutput", {}))
