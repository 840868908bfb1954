"""The real-board driver as far as a machine with no debug probe allows: real
pyocd, its real "no probe" answer, turned into one clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load_target
from bench.target.protocols import FlashableBoard, TargetError
from bench.target.pyocd_board import PyOCDBoard
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
