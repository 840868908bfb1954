"""The real-board driver as far as a machine with no debug probe allows: real
pyocd, its real "no probe" answer, turned into one clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_target, project_root
from bench.target.protocols import FlashableBoard, TargetError
from bench.target.pyocd_board import PyOCDBoard, loadable_segments, verify_readback
from bench.target.serial_console import SerialConsole

pytest.importorskip("pyocd")
CFG = load_target("example-real-board")


def test_pyocd_board_is_a_flashable_board() -> None:
    assert isinstance(PyOCDBoard(CFG.name, CFG.board), FlashableBoard)


def test_missing_image_is_refused_before_touching_a_probe(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="not found"):
        PyOCDBoard(CFG.name, CFG.board).flash(tmp_path / "absent.elf")


def test_no_probe_attached_is_one_clear_error(tmp_path: Path) -> None:
    image = tmp_path / "fw.elf"
    image.write_bytes(b"\x7fELF")
    board = PyOCDBoard(CFG.name, CFG.board)
    with pytest.raises(TargetError, match="pyocd found no debug probe: check the USB cable"):
        board.flash(image)
    assert not board.alive()


def test_serial_console_on_a_missing_port_is_a_clear_error() -> None:
    with pytest.raises(TargetError, match="cannot open console /dev/ttyNOPE"):
        SerialConsole("/dev/ttyNOPE", 115200).open()


def _board(tmp_path: Path, **update: str) -> tuple[PyOCDBoard, Path]:
    image = tmp_path / "fw.elf"
    image.write_bytes(b"\x7fELF")
    return PyOCDBoard(CFG.name, CFG.board.model_copy(update=update)), image


def test_wrong_probe_uid_is_named(tmp_path: Path) -> None:
    board, image = _board(tmp_path, probe="0670FF535254887767165023")
    with pytest.raises(TargetError, match="pyocd found no debug probe '0670FF535254887767165023'"):
        board.flash(image)


def test_unknown_target_type_is_refused_before_any_probe(tmp_path: Path) -> None:
    board, image = _board(tmp_path, pyocd_target="stm32f767zitx")
    with pytest.raises(TargetError, match="no built-in target 'stm32f767zitx'.*pyocd_pack.*stm32f767zi"):
        board.flash(image)


def test_missing_cmsis_pack_is_named(tmp_path: Path) -> None:
    board, image = _board(tmp_path, pyocd_target="stm32f767zitx", pyocd_pack=str(tmp_path / "Keil.STM32F7.pack"))
    with pytest.raises(TargetError, match="CMSIS pack .*Keil.STM32F7.pack not found"):
        board.flash(image)


# Read-back verification: the memory reader stands in for a probe (none is attached here).
REF = project_root() / "firmware_images" / "mps2-an385" / "firmware.elf"


@pytest.mark.skipif(not REF.is_file(), reason="reference firmware not built")
def test_readback_verifies_every_loadable_octet_and_names_the_first_difference() -> None:
    segments = loadable_segments(REF)
    memory = bytearray(0x40000)
    for seg in segments:
        memory[seg.address: seg.address + len(seg.data)] = seg.data
    def read(addr: int, n: int) -> bytes:
        return bytes(memory[addr: addr + n])
    assert verify_readback(REF, read) == sum(len(s.data) for s in segments) > 70_000
    memory[segments[0].address + 0x123] ^= 0xFF
    with pytest.raises(TargetError, match=f"failed at 0x{segments[0].address + 0x123:08x}"):
        verify_readback(REF, read)


def test_readback_refuses_an_image_without_addresses(tmp_path: Path) -> None:
    hexfile = tmp_path / "fw.hex"
    hexfile.write_text(":00000001FF\n")
    with pytest.raises(TargetError, match="needs an ELF"):
        verify_readback(hexfile, lambda a, n: b"")
