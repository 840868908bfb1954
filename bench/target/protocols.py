"""What tests ask for, independent of what serves it (labgrid's protocols).

A test asks for a board it can flash and reset, a console to talk to its agent,
and a wire tap to capture what it sends. QEMU serves all three for the emulated
board; pyocd, a USB serial port and a host NIC serve them on a lab bench.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import serial


class TargetError(RuntimeError):
    """The board or its console could not be brought up or has died."""


@runtime_checkable
class FlashableBoard(Protocol):
    """A board that takes an image and can be powered and reset."""

    name: str

    def flash(self, image: Path) -> None: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None:
        """Hard reset: the firmware restarts and prints its boot banner."""
    def alive(self) -> bool:
        """False once the board (or its emulator) is known to be gone."""


@runtime_checkable
class Console(Protocol):
    """The UART the agent speaks on, as a pyserial port."""

    def open(self) -> serial.SerialBase: ...
    def close(self) -> None: ...


@runtime_checkable
class WireTap(Protocol):
    """Records every frame the board puts on (and takes off) its network."""

    def start(self, pcap: Path) -> None: ...
    def stop(self) -> Path | None:
        """Stop recording; the path of the finished pcap (None if nothing was captured)."""
