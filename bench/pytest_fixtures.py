"""The acceptance plugin's fixtures: the target, the run record, the booted session and what tests ask for."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.config import TargetConfig, load_target
from bench.pytest_bench import Bench
from bench.pytest_record import TEST, fail_run, junit_suite, new_record
from bench.report.store import RunRecord

if TYPE_CHECKING:  # the plugin loads in every pytest run: keep its imports light
    from bench.agent.device import Device
    from bench.session import BenchSession
    from bench.target.protocols import Console, FlashableBoard


@pytest.fixture(scope="session")
def target_config(pytestconfig: pytest.Config) -> TargetConfig:
    return load_target(pytestconfig.getoption("--target"))


@pytest.fixture(scope="session")
def run_record(request: pytest.FixtureRequest, target_config: TargetConfig) -> RunRecord:
    from bench import signals

    signals.reset()
    signals.install()  # before verdicts.json appears: a signal from then on is the bench's to handle
    return new_record(request.config, target_config, len(request.session.items))


@pytest.fixture(scope="session")
def bench_session_(pytestconfig: pytest.Config, target_config: TargetConfig, run_record: RunRecord) -> Iterator[BenchSession]:
    from bench.capture.sources import CaptureError
    from bench.capture.tap import TapError
    from bench.pytest_workers import boards
    from bench.session import BootFailure, bench_session
    from bench.target.protocols import TargetError

    image = pytestconfig.getoption("--image")
    for board in boards(pytestconfig, target_config, run_record.directory):
        run_record.boards = [board.name]
        try:
            with bench_session(board.config, run_record.directory, Path(image) if image else None,
                               board.name if board.several else "") as session:
                try:
                    session.boot()
                except BootFailure as exc:
                    run_record.boots = list(session.boots)
                    if board.quarantine(str(exc)):  # a pool board: the next free one takes over
                        continue
                    run_record.boot_failure = str(exc)  # the report's "never booted" banner
                    fail_run(pytestconfig, "boot", str(exc))
                run_record.device = session.device.info if session.device else None
                if session.device and session.device.info:
                    info = session.device.info
                    junit_suite(pytestconfig, None, [("device.fw", info.fw), ("device.board", info.board)])
                try:
                    yield session
                finally:
                    run_record.boots = list(session.boots)
                return
        except (TargetError, TapError, CaptureError) as exc:  # the target could not be opened (tap, QEMU, probe)
            reason = str(exc).splitlines()[0]
            if board.quarantine(reason):
                continue
            if not run_record.device:
                run_record.boot_failure = reason
            fail_run(pytestconfig, "target", reason)


@pytest.fixture
def bench(request: pytest.FixtureRequest, bench_session_: BenchSession) -> Bench:
    return Bench(bench_session_, request.node.stash[TEST])


@pytest.fixture
def device(bench_session_: BenchSession) -> Device:
    return bench_session_.healthy_device()


@pytest.fixture
def board(bench_session_: BenchSession) -> FlashableBoard:
    assert bench_session_.target is not None
    return bench_session_.target.board


@pytest.fixture
def console(bench_session_: BenchSession) -> Console:
    assert bench_session_.target is not None
    return bench_session_.target.console
