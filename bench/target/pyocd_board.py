"""FlashableBoard on a real Cortex-M board through a debug probe, with pyocd's API.

The probe is chosen by its unique id (``board.probe``; empty takes the only one
attached). The target type comes from the board file: one of pyocd's built-in
targets, or a part from a CMSIS pack given by path (``board.pyocd_pack``; pyocd
cannot download a pack index here, so nothing is fetched). Each of those is
checked before a probe is touched, so a typo is one line, not a USB timeout.

Flashing is pyocd's FileProgrammer, then a read-back of every loadable ELF
segment (pyocd has no verify flag), then a reset. A core found locked up
(a hard fault inside a fault handler) is recovered with a hardware reset before
anything else is done with it.

Verified here only as far as a machine without a probe allows: the no-probe,
wrong-uid, unknown-target and missing-pack paths run real pyocd; the read-back
comparison runs against a memory reader that stands in for the probe (the one
place a stand-in is used, since no probe is attached here; see README).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import BoardConfig
from bench.target.protocols import TargetError

ReadMemory = Callable[[int, int], bytes]  # (address, length) -> bytes read from the target


@dataclass(frozen=True)
class Segment:
    address: int
    data: bytes


def loadable_segments(image: Path) -> list[Segment]:
    """The bytes an ELF puts in target memory: PT_LOAD segments with file contents, at their LMA."""
    from elftools.elf.elffile import ELFFile

    with image.open("rb") as f:
        elf = ELFFile(f)
        return [Segment(seg["p_paddr"], seg.data()[: seg["p_filesz"]])
                for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0]


def verify_readback(image: Path, read: ReadMemory, chunk: int = 4096) -> int:
    """Compare every loadable byte of ``image`` with target memory; octets verified.

    Raises TargetError naming the first address that differs.
    """
    if image.suffix.lower() != ".elf" and image.read_bytes()[:4] != b"\x7fELF":
        raise TargetError(f"{image.name}: read-back verification needs an ELF image (HEX/BIN carry no addresses "
                          "the bench can trust)")
    total = 0
    for seg in loadable_segments(image):
        for off in range(0, len(seg.data), chunk):
            want = seg.data[off: off + chunk]
            got = bytes(read(seg.address + off, len(want)))
            if got != want:
                at = next(i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b) \
                    if len(got) == len(want) else min(len(got), len(want))
                raise TargetError(f"verify after flashing failed at 0x{seg.address + off + at:08x}: "
                                  f"wrote 0x{want[at]:02x}, read back "
                                  f"{'nothing' if at >= len(got) else f'0x{got[at]:02x}'}")
            total += len(want)
    return total


def check_target_type(config: BoardConfig) -> dict[str, Any]:
    """pyocd session options for the board file's target type; TargetError if pyocd cannot know it."""
    options: dict[str, Any] = {"target_override": config.pyocd_target, "frequency": 4_000_000}
    if config.pyocd_pack:
        pack = Path(config.pyocd_pack)
        if not pack.is_file():
            raise TargetError(f"CMSIS pack {pack} not found (pyocd cannot download packs here: give a local "
                              ".pack file)")
        options["pack"] = str(pack)
        return options  # the pack's parts are known only once pyocd reads it, at session open
    from pyocd.target import TARGET

    if config.pyocd_target.lower() not in TARGET:
        close = sorted(t for t in TARGET if t.startswith(config.pyocd_target.lower()[:7]))[:5]
        hint = f"; built-in near it: {', '.join(close)}" if close else ""
        raise TargetError(f"pyocd has no built-in target {config.pyocd_target!r}: give its CMSIS pack as "
                          f"pyocd_pack{hint}")
    return options


class PyOCDBoard:
    def __init__(self, name: str, config: BoardConfig) -> None:
        self.name = name
        self.config = config
        self._session: Any = None
        self.verified_octets = 0

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        options = check_target_type(self.config)
        try:
            from pyocd.core.helpers import ConnectHelper
        except ImportError as exc:
            raise TargetError("pyocd is not installed: pip install 'mailbench[real]'") from exc
        session = ConnectHelper.session_with_chosen_probe(
            unique_id=self.config.probe or None, blocking=False, return_first=False, options=options,
        )
        if session is None:
            which = f"debug probe {self.config.probe!r}" if self.config.probe else "debug probe"
            raise TargetError(f"pyocd found no {which}: check the USB cable and `pyocd list`")
        try:
            session.open()
        except Exception as exc:  # noqa: BLE001 - pyocd raises many kinds; one line names the cause
            raise TargetError(f"pyocd could not open {self.config.pyocd_target} on probe "
                              f"{session.probe.unique_id}: {exc}") from exc
        self._session = session
        self._recover_lockup()
        return session

    def _recover_lockup(self) -> None:
        from pyocd.core.target import Target

        target = self._session.target
        if target.get_state() == Target.State.LOCKUP:
            target.reset_and_halt(Target.ResetType.HW)
            if target.get_state() == Target.State.LOCKUP:
                raise TargetError("the core stays locked up after a hardware reset: check the image and "
                                  "the reset line")

    def flash(self, image: Path) -> None:
        if not image.is_file():
            raise TargetError(f"firmware image {image} not found")
        from pyocd.flash.file_programmer import FileProgrammer

        session = self._open()
        FileProgrammer(session).program(str(image))
        self.verified_octets = verify_readback(image, lambda addr, n: bytes(session.target.read_memory_block8(addr, n)))
        session.target.reset_and_halt()

    def power_on(self) -> None:
        self._open().target.resume()

    def reset(self) -> None:
        self._open()
        self._recover_lockup()
        self._session.target.reset()

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

