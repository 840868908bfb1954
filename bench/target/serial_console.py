"""Console on a USB serial port (or any pyserial URL): the real-board path."""
from __future__ import annotations

from typing import Any

from bench.target.protocols import TargetError


class SerialConsole:
    """Console on a USB serial port (or any pyserial URL)."""

    def __init__(self, port: str, baudrate: int) -> None:
        self.port = port
        self.baudrate = baudrate
        self._ser: Any = None

    def open(self) -> Any:
        import serial

        if self._ser is None:
            try:
                self._ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.1)
            except serial.SerialException as exc:
                raise TargetError(f"cannot open console {self.port}: {exc}") from exc
        return self._ser

    def close(self) -> None:
        if self._ser is not None:
            self._ser.close()
            self._ser = None
