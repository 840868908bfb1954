"""pytest plugin: a board, a console and a bench for acceptance tests.

Tests ask for ``bench`` (run a workload, judge it) or for ``device`` / ``board``
/ ``console``; they never name QEMU or pyocd. ``--target`` picks the target file.
Verdicts are collected per test, attached to the JUnit XML as properties, and
written to ``verdicts.json`` in the run directory for the reporters.

A test's ``@pytest.mark.criterion(...)`` is the one declaration of what judges
it: IDs not in the catalogue stop the run at collection, every ID is also a
marker of its own (``-m "SMTP-MAIL-2 and not DEV-ROB-2"``), ``--criterion ID``
keeps the tests that judge it, and ``bench.check`` judges the workload by them.

This module holds the options, the markers and each test's way into the run's
record; the rest of the plugin is in the modules ``pytest_plugins`` names.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import pytest

from bench import signals as _signals  # imported now, before pytest captures stderr
from bench.pytest_record import RECORD, TEST, persist_record, state
from bench.pytest_workers import ControllerSide, is_controller, is_worker, send_summary, send_test, watch_controller
from bench.report.store import STATUS_BENCH_ERROR, STATUS_COMPLETE, STATUS_INTERRUPTED, TestRecord
from bench.run_end import bench_error_of, exit_code, release_room

pytest_plugins = ["bench.pytest_fixtures", "bench.pytest_progress", "bench.pytest_summary"]

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
        from bench.pytest_controller import Controller

        config.pluginmanager.register(Controller(config), "mailbench-controller")
        config.pluginmanager.register(ControllerSide(), "mailbench-controller-side")
    elif is_worker(config):
        watch_controller(config)
    config.addinivalue_line("markers", "criterion(*ids): catalogue criteria this test judges")
    for c in load_catalogue().criteria:  # each ID a marker of its own, for -m expressions
        config.addinivalue_line("markers", f"{c.id}: tests that judge {c.id} ({c.section})")


def criteria_of(item: pytest.Item) -> tuple[str, ...]:
    """The IDs of every ``criterion`` marker on the test (module, class, function, parameter), in order."""
    return tuple(dict.fromkeys(cid for m in item.iter_markers("criterion") for cid in m.args))


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m/-k deselection reads the markers
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from bench.config.catalogue import load_catalogue

    _signals.at("collection")
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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state.current = item.stash[TEST] = TestRecord(nodeid=item.nodeid, criteria=criteria_of(item))
    _signals.at(f"setup:{item.session.items.index(item) + 1}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _signals.at(f"teardown:{item.session.items.index(item) + 1}")


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> Iterator[object]:
    _signals.at(f"fixture:{fixturedef.argname}")
    result = yield
    _signals.at(f"fixture-done:{fixturedef.argname}")
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    from bench.report.redact import redact

    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    test = item.stash.get(TEST, None)
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
    record = item.config.stash.get(RECORD, None)
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
    test, state.current = state.current, None
    record = state.session.config.stash.get(RECORD, None) if state.session is not None else None
    if test is None or record is None or test.nodeid != nodeid:
        return
    record.tests.append(test)
    persist_record(record)
    _signals.at(f"logfinish:{len(record.tests)}")
    sig = _signals.unhandled()
    if sig is not None and state.session is not None:  # a first signal was swallowed (bench.signals): stop here
        state.session.shouldstop = f"interrupted by {_signals.name(sig)}"


def pytest_sessionstart(session: pytest.Session) -> None:
    state.session, state.current = session, None
    _signals.at("sessionstart")


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[object]:
    from bench import signals

    try:
        signals.at("runtestloop")
        result = yield
        signals.at("runtestloop-end")
        return result
    finally:
        signals.begin_closing()  # a first signal from here on does not cut the cleanup short


@pytest.hookimpl(tryfirst=True)  # before the terminal reporter renders the traceback
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """A signal that lands on an instruction without a line number (CPython 3.11: in
    ElementTree.indent while junit.xml is written, say) leaves a traceback entry whose
    ``tb_lineno`` is None; pytest's rendering of it raises TypeError and the run ends as an
    internal error instead of an interrupt. Such entries are dropped first."""
    excinfo.traceback = excinfo.traceback.filter(lambda e: e._rawentry.tb_lineno is not None)


@pytest.hookimpl(wrapper=True, trylast=True)  # around the fixtures' teardown: boots recorded, QEMU stopped, taps removed
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    from bench import signals

    signals.at("sessionfinish")
    try:
        yield
    except KeyboardInterrupt:
        # the first signal's Interrupted, kept by code it landed in and raised again in the teardown
        # (qemu.qmp's asyncio reader task keeps it and raises it when QMP is closed): the run is
        # already ending as interrupted; tear down what the raise cut short, finish the record
        if signals.received() is None:
            raise
        with contextlib.suppress(Exception, KeyboardInterrupt):
            session._setupstate.teardown_exact(None)
    _finish_record(session, exitstatus)


def _finish_record(session: pytest.Session, exitstatus: int) -> None:
    global final_exit_code
    from bench import signals

    record = session.config.stash.get(RECORD, None)
    if record is None:
        return
    record.finished = time.time()
    sig = signals.received()
    # pytest reports a run ended by ``shouldstop`` (a bench error) as interrupted too
    by_signal = sig is not None or (exitstatus == pytest.ExitCode.INTERRUPTED and record.bench_error is None)
    running, state.current = state.current, None
    signame = signals.name(sig) if sig else "SIGINT"
    if running is not None and by_signal:
        running.outcome, running.error = "interrupted", f"interrupted by {signame}"
        record.tests.append(running)
    if by_signal:
        record.status = STATUS_INTERRUPTED
        record.interrupted = {"signal": signame,  # a worker's test when the controller ran none
                              "test": running.nodeid if running else (record.interrupted or {}).get("test", "")}
    elif record.bench_error is not None:
        record.status = STATUS_BENCH_ERROR
    else:
        record.status = STATUS_COMPLETE
    if is_worker(session.config):  # the controller writes the run's files
        send_summary(session.config, record, record.boards[0] if record.boards else "")
        return
    persist_record(record)
    release_room(record.directory)
    try:
        from bench.report.html import write_html_report

        record.report = write_html_report(record.directory)
    except Exception as exc:  # noqa: BLE001 - the verdicts are kept; say why there is no HTML
        record.report = None
        state.notes.append(f"bench: no HTML report ({type(exc).__name__}: {exc})")
    session.exitstatus = final_exit_code = exit_code(record, exitstatus, signals.received())


