"""Every byte line that crossed the UART, timestamped on the bench's clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal


@dataclass(frozen=True)
class UartRecord:
    t: float  # time.time()
    direction: Literal["host", "dev"]
    line: bytes  # without the LF


@dataclass
class UartLog:
    """Records in memory and, while a file is attached, in ``uart.log`` form."""

    records: list[UartRecord] = field(default_factory=list)
    _file: IO[str] | None = None
    path: Path | None = None

    def attach(self, path: Path) -> None:
        """Start writing to ``path`` (one file per test); records so far stay in memory."""
        self.detach()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self.path = path

    def detach(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def since(self, t: float) -> list[UartRecord]:
        return [r for r in self.records if r.t >= t]

    def add(self, record: UartRecord) -> None:
        self.records.append(record)
        if self._file is not None:
            arrow = ">>" if record.direction == "host" else "<<"
            self._file.write(f"{record.t:.6f} {arrow} {record.line.decode('utf-8', 'backslashreplace')}\n")
            self._file.flush()
