"""What an acceptance run prints at its end: verdicts by criterion, why it ended early, where the report is."""
from __future__ import annotations

import sys

import pytest

from bench.pytest_record import RECORD, state
from bench.pytest_workers import is_worker


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    record = config.stash.get(RECORD, None)
    if record is None or not record.tests:
        return
    from bench.report.console import render_summary, render_timing

    terminalreporter.write_sep("=", "verdicts by criterion")
    for line in [*render_summary(record), *render_timing(record)]:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Last words: why the run ended early (one line) and where the report is."""
    from bench.report.store import missing_line

    record = config.stash.get(RECORD, None)
    if record is None or is_worker(config):  # the controller says it, for the whole run
        return
    lines = list(state.notes)
    state.notes.clear()
    missing = missing_line(record.to_dict())
    if missing:
        lines.append(f"bench: {missing}")
    if record.report is not None:
        lines.append(f"report: {record.report}")
    else:
        lines.append(f"artifacts: {record.directory}")
    for line in lines:
        print(line, file=sys.stderr if line.startswith("bench:") else sys.stdout, flush=True)
