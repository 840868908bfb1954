"""Every line that crossed the UART, timestamped on the bench's clock.

Kept in memory, in a session-wide log, and while a test runs in that test's own
``uart.log`` too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal


@dataclass(frozen=True)
class UartRecord:
    t: float  # time.time()
    direction: Literal["host", "dev"]
    line: bytes  # without the LF

    def render(self) -> str:
        arrow = ">>" if self.direction == "host" else "<<"
        return f"{self.t:.6f} {arrow} {self.line.decode('utf-8', 'backslashreplace')}"


@dataclass
class UartLog:
    records: list[UartRecord] = field(default_factory=list)
    session_path: Path | None = None
    path: Path | None = None  # the current test's log
    _files: dict[str, IO[str]] = field(default_factory=dict, repr=False)

    def open_session(self, path: Path) -> None:
        self._open("session", path)
        self.session_path = path

    def attach(self, path: Path) -> None:
        """Also write to ``path`` until ``detach`` (one file per test)."""
        self.detach()
        self._open("test", path)
        self.path = path

    def detach(self) -> None:
        f = self._files.pop("test", None)
        if f is not None:
            f.close()

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def _open(self, slot: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._files[slot] = path.open("a", encoding="utf-8")

    def add(self, record: UartRecord) -> None:
        self.records.append(record)
        text = record.render() + "\n"
        for f in self._files.values():
            f.write(text)
            f.flush()
