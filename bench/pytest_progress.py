"""The progress bar an acceptance run at a terminal draws instead of pytest's letters (bench.report.progress)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bench.report.progress import SuiteProgress

_progress: SuiteProgress | None = None  # while an interactive run draws one


def pytest_collection_finish(session: pytest.Session) -> None:
    """An acceptance run at a terminal: a progress bar instead of pytest's letters."""
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


@pytest.hookimpl(trylast=True)  # where the plugin's own session end runs, before the report is written
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _progress
    if _progress is not None:
        _progress.close()
        _progress = None
