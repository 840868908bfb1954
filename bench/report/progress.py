"""A live progress bar for people at a terminal; silent in CI and in pipes.

pytest captures file descriptors 1 and 2 while a test runs, so a bar redrawn
by a background thread would draw into the capture and freeze on screen.
This one is redrawn only between tests (when pytest has released the
terminal), writes to the terminal pytest reports on, and takes pytest's own
per-test letters off that line while it is shown, so the two never mix. It is
transient: erased when the run ends, before pytest's summary.
"""
from __future__ import annotations

import os
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def wanted(stream: IO[str]) -> bool:
    """A person is watching: ``stream`` is a terminal and this is not CI (``CI`` unset, ``TERM`` not dumb)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("CI") and os.environ.get("TERM", "") != "dumb"


class SuiteProgress:
    """Which test runs, how many are done, elapsed and remaining time."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=stream, force_terminal=True),
            transient=True,
            auto_refresh=False,  # redrawn between tests only: a refresh thread would draw into pytest's capture
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("collected", total=total)
        self._progress.start()
        self._progress.refresh()

    def running(self, nodeid: str) -> None:
        # escaped: "test_auth[plain]" is a test id, not rich markup
        self._progress.update(self._task, description=escape(nodeid.split("::", 1)[-1][:60]))
        self._progress.refresh()

    def finished(self) -> None:
        self._progress.advance(self._task)
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()
