"""FlashableBoard on a real Cortex-M board through a debug probe, with pyocd.

Verified here only against pyocd's own API and its "no probe" paths: no probe is
attached to any machine this project runs on (see README).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.config import BoardConfig
from bench.target.protocols import TargetError


class PyOCDBoard:
    def __init__(self, name: str, config: BoardConfig) -> None:
        self.name = name
        self.config = config
        self._session: Any = None

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        try:
            from pyocd.core.helpers import ConnectHelper
        except ImportError as exc:
            raise TargetError("pyocd is not installed: pip install 'mailbench[real]'") from exc
        session = ConnectHelper.session_with_chosen_probe(
            unique_id=self.config.probe or None,
            blocking=False,
            return_first=False,
            options={"target_override": self.config.pyocd_target, "frequency": 4_000_000},
        )
        if session is None:
            which = f"debug probe {self.config.probe!r}" if self.config.probe else "debug probe"
            raise TargetError(f"pyocd found no {which}: check the USB cable and `pyocd list`")
        session.open()
        self._session = session
        return session

    def flash(self, image: Path) -> None:
        if not image.is_file():
            raise TargetError(f"firmware image {image} not found")
        from pyocd.flash.file_programmer import FileProgrammer

        session = self._open()
        FileProgrammer(session).program(str(image))
        session.target.reset_and_halt()

    def power_on(self) -> None:
        self._open().target.resume()

    def reset(self) -> None:
        self._open().target.reset()

    def power_off(self) -> None:
        """Halt the core and let go of the probe (a probe cannot cut power)."""
        if self._session is not None:
            try:
                self._session.target.halt()
            finally:
                self._session.close()
                self._session = None

    def alive(self) -> bool:
        return self._session is not None and self._session.is_open
