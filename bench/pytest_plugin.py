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
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.checks.verdict import Outcome, Verdict, roots_first
from bench.config import TargetConfig, load_target, project_root
from bench.report.store import RunRecord, TestRecord, new_run_id

if TYPE_CHECKING:  # the plugin loads in every pytest run: keep its imports light
    from bench.agent.device import Device
    from bench.session import BenchSession
    from bench.target.protocols import Console, FlashableBoard
    from bench.workload.evidence import RunEvidence
    from bench.workload.model import Workload

_RECORD = pytest.StashKey[RunRecord]()
_TEST = pytest.StashKey[TestRecord]()
_progress = None  # SuiteProgress while an interactive run draws one


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailbench", "mail-client firmware bench")
    group.addoption("--target", default=os.environ.get("BENCH_TARGET", "mps2-an385"),
                    help="target name under targets/ or a target file (default: mps2-an385)")
    group.addoption("--image", default=None, help="firmware image to flash (default: the target file's)")
    group.addoption("--run-dir", default=None, help="where artifacts go (default: captures/<run-id>)")
    group.addoption("--criterion", action="append", default=[], metavar="ID",
                    help="run only the tests that judge this catalogue criterion (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    from bench.config.catalogue import load_catalogue

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
            pytest.fail(_explain(failed), pytrace=False)
        waived = [v for v in verdicts if v.outcome is Outcome.WAIVED]
        if waived:
            from bench.checks.waivers import skip_reason

            pytest.skip(skip_reason(waived))
        return evidence


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


@pytest.fixture(scope="session")
def run_record(pytestconfig: pytest.Config, target_config: TargetConfig) -> RunRecord:
    given = pytestconfig.getoption("--run-dir")
    run_dir = Path(given) if given else project_root() / "captures" / new_run_id(target_config.name)
    run_id = run_dir.name
    record = RunRecord(run_id=run_id, target=target_config.name, directory=run_dir.resolve(), started=time.time(),
                       waivers=target_config.waiver)
    from bench.report.identity import judged, properties

    image = pytestconfig.getoption("--image")
    record.judged = judged(target_config, Path(image) if image else target_config.board.image)
    _junit_suite(pytestconfig, target_config.name, properties(record.judged))
    pytestconfig.stash[_RECORD] = record
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
    from bench.session import bench_session

    image = pytestconfig.getoption("--image")
    with bench_session(target_config, run_record.directory, Path(image) if image else None) as session:
        try:
            session.boot()
        except BaseException as exc:  # the report's "never booted" banner says why
            run_record.boot_failure = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        run_record.device = session.device.info if session.device else None
        if session.device and session.device.info:
            info = session.device.info
            _junit_suite(pytestconfig, None, [("device.fw", info.fw), ("device.board", info.board)])
        yield session
        run_record.boots = list(session.boots)


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


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _progress is not None:
        _progress.finished()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_TEST] = TestRecord(nodeid=item.nodeid, criteria=criteria_of(item))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    test = item.stash.get(_TEST, None)
    if test is None:
        return
    record = item.config.stash.get(_RECORD, None)
    if report.when == "setup" and report.failed:  # e.g. the board never booted: recorded, not lost
        test.outcome, test.error = "error", str(report.longrepr)[-2000:]
        if record is not None:
            record.tests.append(test)
        return
    if report.when == "teardown" and record is not None:  # JUnit's system-out is the teardown report's
        from bench.report.junit import attachments

        files = attachments(test, record.directory)
        if files:  # GitLab and Jenkins link these from the test case
            report.sections.append(("Captured stdout bench", "".join(f"[[ATTACHMENT|{f}]]\n" for f in files)))
    if report.when != "call":
        return
    test.outcome = report.outcome
    test.duration = report.duration
    if report.failed and not test.verdicts:
        test.error = str(report.longrepr)[-2000:]
    elif report.skipped and isinstance(report.longrepr, tuple):  # (file, line, reason): why not judged
        test.error = str(report.longrepr[2])[-2000:]
    for v in test.verdicts:
        follows = f" (follows from {v.follows}: {v.follows_reason})" if v.follows else ""
        item.user_properties.append((f"verdict {v.criterion}", f"{v.outcome.value}: {v.summary} [{v.subject}]{follows}"))
    if record is not None:
        record.tests.append(test)


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _progress
    if _progress is not None:
        _progress.close()
        _progress = None
    record = session.config.stash.get(_RECORD, None)
    if record is None:
        return
    record.finished = time.time()
    record.write()
    from bench.report.html import write_html_report

    record.report = write_html_report(record.directory)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    record = config.stash.get(_RECORD, None)
    if record is None or not record.tests:
        return
    from bench.report.console import render_summary, render_timing

    terminalreporter.write_sep("=", "verdicts by criterion")
    for line in [*render_summary(record), *render_timing(record)]:
        terminalreporter.write_line(line)
    if record.report is not None:
        terminalreporter.write_line(f"report: {record.report}")

