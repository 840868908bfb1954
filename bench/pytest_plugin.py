"""pytest plugin: a board, a console and a bench for acceptance tests.

Tests ask for ``bench`` (run a workload, judge it) or for ``device`` / ``board``
/ ``console``; they never name QEMU or pyocd. ``--target`` picks the target file.
Verdicts are collected per test, attached to the JUnit XML as properties, and
written to ``verdicts.json`` in the run directory for the reporters.

A test's ``@pytest.mark.criterion(...)`` is the one declaration of what judges
it: IDs not in the catalogue stop the run at collection, every ID is also a
marker of its own (``-m "SMTP-MAIL-2 and not DEV-ROB-2"``), ``--criterion ID``
keeps the tests that judge it, and ``bench.check`` judges the workload by them.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from bench import signals as _signals  # noqa: F401 - imported now, before pytest captures stderr
from bench.checks.verdict import Outcome, Verdict, roots_first
from bench.config import TargetConfig, load_target, project_root
from bench.pytest_workers import is_controller, is_worker, merge_worker, received_test, send_summary, send_test, worker_id
from bench.report.store import (
    STATUS_BENCH_ERROR,
    STATUS_COMPLETE,
    STATUS_INTERRUPTED,
    RunRecord,
    TestRecord,
    allocate_run_dir,
)
from bench.run_end import bench_error_of, exit_code, keep_room, persist, release_room

if TYPE_CHECKING:  # the plugin loads in every pytest run: keep its imports light
    from bench.agent.device import Device
    from bench.session import BenchSession
    from bench.target.protocols import Console, FlashableBoard
    from bench.workload.evidence import RunEvidence
    from bench.workload.model import Workload

_RECORD = pytest.StashKey[RunRecord]()
_TEST = pytest.StashKey[TestRecord]()
_progress = None  # SuiteProgress while an interactive run draws one
_current: TestRecord | None = None  # the running test
_session: pytest.Session | None = None
_JUNIT = pytest.StashKey[Path]()  # the JUnit XML rewritten after every test (absent: pytest's --junitxml)
_notes: list[str] = []  # lines for the end of the output
final_exit_code: int | None = None  # the bench's exit code of the last run in this process (bench run reads it)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailbench", "mail-client firmware bench")
    group.addoption("--target", default=os.environ.get("BENCH_TARGET", "mps2-an385"),
                    help="target name under targets/ or a target file (default: mps2-an385)")
    group.addoption("--image", default=None, help="firmware image to flash (default: the target file's)")
    group.addoption("--run-dir", default=None, help="where artifacts go (default: captures/<run-id>)")
    group.addoption("--criterion", action="append", default=[], metavar="ID",
                    help="run only the tests that judge this catalogue criterion (repeatable)")
    group.addoption("--pool", default=None, metavar="FILE",
                    help="board pool file: each worker claims a free board of the target from it")
    group.addoption("--bench-junit", default=None,
                    help="JUnit XML rewritten after every test (default: <run-dir>/junit.xml unless --junitxml)")


def pytest_configure(config: pytest.Config) -> None:
    from bench.config.catalogue import load_catalogue

    if is_controller(config):
        config.pluginmanager.register(_Controller(config), "mailbench-controller")
    config.addinivalue_line("markers", "criterion(*ids): catalogue criteria this test judges")
    for c in load_catalogue().criteria:  # each ID a marker of its own, for -m expressions
        config.addinivalue_line("markers", f"{c.id}: tests that judge {c.id} ({c.section})")


def criteria_of(item: pytest.Item) -> tuple[str, ...]:
    """The IDs of every ``criterion`` marker on the test (module, class, function, parameter), in order."""
    return tuple(dict.fromkeys(cid for m in item.iter_markers("criterion") for cid in m.args))


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m/-k deselection reads the markers
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from bench.config.catalogue import load_catalogue

    catalogue = load_catalogue()
    for item in items:
        criteria = criteria_of(item)
        if catalogue.unknown(criteria):
            raise pytest.UsageError(f"{item.nodeid}: {catalogue.explain_unknown(criteria)}")
        for cid in criteria:
            item.add_marker(cid)
    wanted = config.getoption("--criterion")
    if not wanted:
        return
    if catalogue.unknown(wanted):
        raise pytest.UsageError(f"--criterion: {catalogue.explain_unknown(wanted)}")
    keep = [i for i in items if set(criteria_of(i)) & set(wanted)]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@dataclass
class Bench:
    """What an acceptance test holds: run a workload on the device, judge it, assert."""

    session: BenchSession
    test: TestRecord

    @property
    def device(self) -> Device:
        return self.session.healthy_device()

    def run(self, workload: Workload) -> tuple[RunEvidence, list[Verdict]]:
        """Run the workload and judge it by the test's criteria (its ``criterion`` markers)."""
        from bench.checks.waivers import waive
        from bench.workload.capabilities import NotApplicable

        if workload.family == 6 and not _host_ipv6():
            pytest.skip("this host has no IPv6 (::1 cannot be bound): IPv6 workloads skipped, IPv4 ones run")
        if workload.family == 6 and not self.session.config.network.server_ip6:
            pytest.skip(f"target {self.session.config.name} has no IPv6 server address ([network] server_ip6): "
                        "IPv6 workloads skipped")
        if workload.criteria:
            pytest.fail(f"workload {workload.name!r} lists criteria of its own; declare them once, "
                        "in the test's @pytest.mark.criterion(...)", pytrace=False)
        if not self.test.criteria:
            pytest.fail("no @pytest.mark.criterion(...) on this test: nothing to judge its workload by", pytrace=False)
        workload = dataclasses.replace(workload, criteria=self.test.criteria)
        try:
            evidence, verdicts = self.session.run(workload, self.test.dirname)
        except NotApplicable as e:  # the device lacks an optional verb: not judged, not failed
            pytest.skip(str(e))
        verdicts = waive(verdicts, self.session.config.waiver, self.test.nodeid)
        self.test.add_run(evidence, verdicts)
        return evidence, verdicts

    def check(self, workload: Workload) -> RunEvidence:
        """Run and judge; fail the test with every non-passing verdict and its evidence.

        A test whose only non-passing verdicts are waived is skipped with the waivers' reasons."""
        evidence, verdicts = self.run(workload)
        failed = [v for v in verdicts if v.outcome not in (Outcome.PASS, Outcome.WAIVED)]
        if failed:
            from bench.report.redact import redact

            pytest.fail(redact(_explain(failed), self.test.secrets), pytrace=False)  # console and pytest's JUnit
        waived = [v for v in verdicts if v.outcome is Outcome.WAIVED]
        if waived:
            from bench.checks.waivers import skip_reason

            pytest.skip(skip_reason(waived))
        return evidence


@functools.cache
def _host_ipv6() -> bool:
    from bench.servers.base import host_has_ipv6

    return host_has_ipv6()


def _explain(failed: list[Verdict]) -> str:
    """Root failures first, then their consequences (each naming the verdict it follows from):
    one line per failed criterion (what a CI tool's failure message shows), then each one's details."""
    from bench.report.junit import relative

    failed = roots_first(failed)

    def follows(v: Verdict) -> str:
        return f" -- follows from {v.follows}: {v.follows_reason}" if v.follows else ""

    out = [f"[{v.criterion}] {v.outcome.value.upper()}: {v.summary}{follows(v)}" for v in failed]
    if len(failed) > 1:
        out.append("")
    for v in failed:
        out.append(f"[{v.criterion}] {v.outcome.value.upper()}: {v.summary} ({v.subject}){follows(v)}")
        for m in v.measurements:
            allowed = "" if m.limit is None else f" (allowed {m.comparator} {m.limit} {m.unit}".rstrip() + ")"
            out.append(f"    measured {m.name} = {m.value}{allowed}")
        for e in v.evidence[:5]:
            where = f" in {relative(e.artifact)}" if e.artifact else ""
            out.append(f"    {e.source} {e.locator}{where}: {e.excerpt}")
    return "\n".join(out)


@pytest.fixture(scope="session")
def target_config(pytestconfig: pytest.Config) -> TargetConfig:
    return load_target(pytestconfig.getoption("--target"))


def _fail_run(config: pytest.Config, kind: str, message: str, code: int = 3) -> NoReturn:
    """End the run for a reason that is the bench's or the board's, not the firmware's."""
    record = config.stash.get(_RECORD, None)
    if record is not None and record.bench_error is None:
        test = _current.nodeid if _current else ""
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
        _junit_suite(pytestconfig, target_config.name, properties(record.judged))
        pytestconfig.stash[_RECORD] = record
        junit = pytestconfig.getoption("--bench-junit")
        if junit or not pytestconfig.option.xmlpath:
            pytestconfig.stash[_JUNIT] = Path(junit) if junit else run_dir / "junit.xml"
        if not is_worker(pytestconfig):  # a worker's results are written by the controller
            record.write()  # proves the directory is writable before anything runs
            keep_room(run_dir)
    except OSError as exc:
        pytestconfig.stash.pop(_RECORD, None)
        where = Path(given) if given else project_root() / "captures"
        _fail_run(pytestconfig, "run-dir", f"cannot write the run directory {where}: {exc.strerror or exc}", 2)
    return record


@pytest.fixture(scope="session")
def run_record(request: pytest.FixtureRequest, target_config: TargetConfig) -> RunRecord:
    from bench import signals

    record = new_record(request.config, target_config, len(request.session.items))
    signals.reset()
    signals.install()
    return record


def _junit_suite(config: pytest.Config, name: str | None, props: list[tuple[str, str]]) -> None:
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
                    _fail_run(pytestconfig, "boot", str(exc))
                run_record.device = session.device.info if session.device else None
                if session.device and session.device.info:
                    info = session.device.info
                    _junit_suite(pytestconfig, None, [("device.fw", info.fw), ("device.board", info.board)])
                try:
                    yield session
                finally:
                    run_record.boots = list(session.boots)
                return
        except (TargetError, TapError, CaptureError) as exc:  # the target could not be opened (tap, QEMU, probe)
            if board.quarantine(str(exc).splitlines()[0]):
                continue
            if not run_record.device:
                run_record.boot_failure = str(exc).splitlines()[0]
            _fail_run(pytestconfig, "target", str(exc).splitlines()[0])


@pytest.fixture
def bench(request: pytest.FixtureRequest, bench_session_: BenchSession) -> Bench:
    return Bench(bench_session_, request.node.stash[_TEST])


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


def pytest_collection_finish(session: pytest.Session) -> None:
    """An acceptance run at a terminal: a progress bar instead of pytest's letters (bench.report.progress)."""
    global _progress
    from bench.report.progress import SuiteProgress, wanted

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stream = getattr(getattr(reporter, "_tw", None), "_file", None)
    if reporter is None or stream is None or session.config.option.collectonly or not wanted(stream):
        return
    if any(item.get_closest_marker("criterion") for item in session.items):
        reporter.write_line("")  # the bar gets a line of its own
        reporter.showfspath = False
        if hasattr(reporter, "_show_progress_info"):
            reporter._show_progress_info = False
        _progress = SuiteProgress(len(session.items), stream)


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Iterator[object]:
    """While the bar is shown, pytest writes no per-test letter on its line (words and summaries stay)."""
    result = yield
    if _progress is not None and isinstance(result, tuple) and len(result) == 3 and config.option.verbose <= 0:
        category, _letter, word = result
        return category, "", word
    return result


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _progress is not None:
        _progress.running(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _current
    _current = item.stash[_TEST] = TestRecord(nodeid=item.nodeid, criteria=criteria_of(item))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    from bench.report.redact import redact

    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    test = item.stash.get(_TEST, None)
    if test is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        test.outcome = report.outcome if report.when == "call" or report.skipped else "error"
        test.duration += report.duration
        if report.skipped and isinstance(report.longrepr, tuple):
            test.error = str(report.longrepr[2])
        elif report.failed and not test.verdicts:
            test.error = str(report.longrepr)[-2000:]
        for v in test.verdicts:
            follows = f" (follows from {v.follows}: {v.follows_reason})" if v.follows else ""
            item.user_properties.append((f"verdict {v.criterion}", redact(
                f"{v.outcome.value}: {v.summary} [{v.subject}]{follows}", test.secrets)))
    elif report.when == "teardown" and report.failed and test.outcome == "passed":
        test.outcome, test.error = "error", str(report.longrepr)[-2000:]
    record = item.config.stash.get(_RECORD, None)
    if report.when == "teardown" and is_worker(item.config):
        send_test(report, test)  # the controller records and writes it
    if report.when == "teardown" and record is not None:  # pytest's --junitxml: system-out is the teardown's
        from bench.report.junit import attachments

        files = attachments(test, record.directory)
        if files:  # GitLab and Jenkins link these from the test case
            report.sections.append(("Captured stdout bench", "".join(f"[[ATTACHMENT|{f}]]\n" for f in files)))
    cause = bench_error_of(call.excinfo.value) if report.failed and call.excinfo else None
    if cause is not None and record is not None and record.bench_error is None:
        kind, message = cause
        record.bench_error = {"kind": kind, "message": message, "test": item.nodeid}
        item.session.shouldstop = f"bench: {message}"


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    global _current
    if _progress is not None:
        _progress.finished()
    test, _current = _current, None
    record = _session.config.stash.get(_RECORD, None) if _session is not None else None
    if test is None or record is None or test.nodeid != nodeid:
        return
    record.tests.append(test)
    _persist(record)


def _persist(record: RunRecord) -> None:
    """verdicts.json and junit.xml, atomically; a full or read-only disk ends the run (after this test)."""
    if _session is not None and is_worker(_session.config):  # the controller writes the run's files
        return
    junit = _session.config.stash.get(_JUNIT, None) if _session is not None else None
    message = persist(record, junit)
    if message and _session is not None and not _session.shouldstop:
        _session.shouldstop = f"bench: {message}"


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session, _current
    _session, _current = session, None


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[object]:
    from bench import signals

    try:
        return (yield)
    finally:
        signals.begin_closing()  # a first signal from here on does not cut the cleanup short


@pytest.hookimpl(trylast=True)  # after the fixtures' teardown: boots recorded, QEMU stopped, taps removed
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _progress, _current, final_exit_code
    from bench import signals

    if _progress is not None:
        _progress.close()
        _progress = None
    record = session.config.stash.get(_RECORD, None)
    if record is None:
        return
    record.finished = time.time()
    sig = signals.received()
    # pytest reports a run ended by ``shouldstop`` (a bench error) as interrupted too
    by_signal = sig is not None or (exitstatus == pytest.ExitCode.INTERRUPTED and record.bench_error is None)
    if _current is not None and by_signal:
        _current.outcome = "interrupted"
        _current.error = f"interrupted by {signals.name(sig) if sig else 'SIGINT'}"
        record.tests.append(_current)
    running, _current = _current, None
    if by_signal:
        record.status = STATUS_INTERRUPTED
        record.interrupted = {"signal": signals.name(sig) if sig else "SIGINT",
                              "test": running.nodeid if running else ""}
    elif record.bench_error is not None:
        record.status = STATUS_BENCH_ERROR
    else:
        record.status = STATUS_COMPLETE
    if is_worker(session.config):  # the controller writes the run's files
        send_summary(session.config, record, record.boards[0] if record.boards else "")
        return
    _persist(record)
    release_room(record.directory)
    try:
        from bench.report.html import write_html_report

        record.report = write_html_report(record.directory)
    except Exception as exc:  # noqa: BLE001 - the verdicts are kept; say why there is no HTML
        record.report = None
        _notes.append(f"bench: no HTML report ({type(exc).__name__}: {exc})")
    session.exitstatus = final_exit_code = exit_code(record, exitstatus, signals.received())


class _Controller:
    """The xdist controller's side of a multi-board run (``bench.pytest_workers``)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from bench import signals

        new_record(self.config, load_target(self.config.getoption("--target")), 0)
        signals.reset()
        signals.install()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        record = self.config.stash.get(_RECORD, None)
        if record is not None:
            record.planned = max(record.planned, len(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.config.stash.get(_RECORD, None)
        test = received_test(report) if report.when == "teardown" else None
        if record is not None and test is not None:
            record.tests.append(test)
            _persist(record)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        record = self.config.stash.get(_RECORD, None)
        if record is not None:
            merge_worker(record, getattr(node, "workeroutput", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    record = config.stash.get(_RECORD, None)
    if record is None or not record.tests:
        return
    from bench.report.console import render_summary, render_timing

    terminalreporter.write_sep("=", "verdicts by criterion")
    for line in [*render_summary(record), *render_timing(record)]:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Last words: why the run ended early (one line) and where the report is."""
    from bench.report.store import missing_line

    record = config.stash.get(_RECORD, None)
    if record is None:
        return
    lines = list(_notes)
    _notes.clear()
    missing = missing_line(record.to_dict())
    if missing:
        lines.append(f"bench: {missing}")
    if record.report is not None:
        lines.append(f"report: {record.report}")
    else:
        lines.append(f"artifacts: {record.directory}")
    for line in lines:
        print(line, file=sys.stderr if line.startswith("bench:") else sys.stdout, flush=True)
