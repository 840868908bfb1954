"""The acceptance plugin's run record: stash keys, the running test, creating and persisting the record."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

from bench.config import TargetConfig, project_root
from bench.pytest_workers import is_worker
from bench.report.store import RunRecord, TestRecord, allocate_run_dir
from bench.run_end import keep_room, persist

RECORD = pytest.StashKey[RunRecord]()
TEST = pytest.StashKey[TestRecord]()
JUNIT = pytest.StashKey[Path]()  # the JUnit XML rewritten after every test (absent: pytest's --junitxml)


@dataclass
class RunState:
    """What the plugin's hooks share while pytest runs."""

    session: pytest.Session | None = None
    current: TestRecord | None = None  # the running test
    notes: list[str] = field(default_factory=list)  # lines for the end of the output


state = RunState()


def fail_run(config: pytest.Config, kind: str, message: str, code: int = 3) -> NoReturn:
    """End the run for a reason that is the bench's or the board's, not the firmware's."""
    record = config.stash.get(RECORD, None)
    if record is not None and record.bench_error is None:
        test = state.current.nodeid if state.current else ""
        record.bench_error = {"kind": kind, "message": message, "test": test}
    pytest.exit("ending the run; the reason follows", returncode=code)


def new_record(pytestconfig: pytest.Config, target_config: TargetConfig, planned: int) -> RunRecord:
    """The run's record in its run dir, written once to prove the dir is writable; exit 2 if it is not."""
    given = pytestconfig.getoption("--run-dir")
    try:
        if given:
            run_dir = Path(given).resolve()
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = allocate_run_dir(project_root() / "captures", target_config.name)
        record = RunRecord(run_id=run_dir.name, target=target_config.name, directory=run_dir, started=time.time(),
                           waivers=target_config.waiver)
        record.planned = planned
        from bench.report.identity import judged, properties

        image = pytestconfig.getoption("--image")
        record.judged = judged(target_config, Path(image) if image else target_config.board.image)
        junit_suite(pytestconfig, target_config.name, properties(record.judged))
        pytestconfig.stash[RECORD] = record
        junit = pytestconfig.getoption("--bench-junit")
        if junit or not pytestconfig.option.xmlpath:
            pytestconfig.stash[JUNIT] = Path(junit) if junit else run_dir / "junit.xml"
        if not is_worker(pytestconfig):  # a worker's results are written by the controller
            record.write()  # proves the directory is writable before anything runs
            keep_room(run_dir)
    except OSError as exc:
        pytestconfig.stash.pop(RECORD, None)
        where = Path(given) if given else project_root() / "captures"
        fail_run(pytestconfig, "run-dir", f"cannot write the run directory {where}: {exc.strerror or exc}", 2)
    return record


def junit_suite(config: pytest.Config, name: str | None, props: list[tuple[str, str]]) -> None:
    """Name the JUnit suite after the target and add suite-level properties (when --junitxml is on)."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    if name:
        xml.suite_name = name
    if xml.logging == "no":  # system-out carries the [[ATTACHMENT|...]] lines
        xml.logging = "system-out"
    for k, v in props:
        xml.add_global_property(k, v)


def persist_record(record: RunRecord) -> None:
    """verdicts.json and junit.xml, atomically; a full or read-only disk ends the run (after this test)."""
    session = state.session
    if session is not None and is_worker(session.config):  # the controller writes the run's files
        return
    junit = session.config.stash.get(JUNIT, None) if session is not None else None
    message = persist(record, junit)
    if message and session is not None and not session.shouldstop:
        session.shouldstop = f"bench: {message}"
