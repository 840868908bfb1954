"""A live progress line for people at a terminal; silent in CI and in pipes."""
from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def wanted() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


class SuiteProgress:
    """Which test runs, how many are left; drawn on stderr, erased at the end."""

    def __init__(self, total: int) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=total)
        self._progress.start()

    def running(self, nodeid: str) -> None:
        self._progress.update(self._task, description=nodeid.split("::", 1)[-1][:60])

    def finished(self) -> None:
        self._progress.advance(self._task)

    def close(self) -> None:
        self._progress.stop()
