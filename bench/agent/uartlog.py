"""Every line that crossed the UART, timestamped on the bench's clock.

Written to a session-wide log and, while a test runs, to that test's own
``uart.log``: the files keep everything. In memory only the last
``MEMORY_RECORDS`` lines are kept (a device that floods its UART for minutes
must not fill the bench's memory); ``records`` still counts every line, so a
slice taken by position holds what is left of it.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, overload

MEMORY_RECORDS = 20000


@dataclass(frozen=True)
class UartRecord:
    t: float  # time.time()
    direction: Literal["host", "dev"]
    line: bytes  # without the LF

    def render(self) -> str:
        arrow = ">>" if self.direction == "host" else "<<"
        return f"{self.t:.6f} {arrow} {self.line.decode('utf-8', 'backslashreplace')}"


class RecordWindow:
    """The last ``maxlen`` records, indexed by their position among all ever added."""

    def __init__(self, maxlen: int = MEMORY_RECORDS) -> None:
        self._kept: deque[UartRecord] = deque(maxlen=maxlen)
        self.total = 0

    def append(self, record: UartRecord) -> None:
        self._kept.append(record)
        self.total += 1

    @property
    def dropped(self) -> int:
        """Records no longer in memory (still in the files)."""
        return self.total - len(self._kept)

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[UartRecord]:
        return iter(self._kept)

    @overload
    def __getitem__(self, k: int) -> UartRecord: ...
    @overload
    def __getitem__(self, k: slice) -> list[UartRecord]: ...
    def __getitem__(self, k: int | slice) -> UartRecord | list[UartRecord]:
        first = self.dropped
        if isinstance(k, slice):
            start, stop, step = k.indices(self.total)
            return [self._kept[i - first] for i in range(max(start, first), stop, step)]
        i = k + self.total if k < 0 else k
        if not first <= i < self.total:
            raise IndexError("record no longer in memory" if 0 <= i < first else "record index out of range")
        return self._kept[i - first]


@dataclass
class UartLog:
    records: RecordWindow = field(default_factory=RecordWindow)
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
