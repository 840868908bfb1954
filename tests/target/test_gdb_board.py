"""The GDB-server board (OpenOCD, J-Link, pyocd gdbserver) as far as a machine
with no probe allows: its target file loads, and with no server running every
step is one clear error, quickly."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from bench.config import load_target
from bench.target.protocols import FlashableBoard, TargetError
from bench.target.target import open_target

pytestmark = pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="no gdb-multiarch")
CFG = load_target("nucleo-f429zi-openocd")


def test_openocd_board_file_names_its_monitor_commands() -> None:
    b = CFG.board
    assert b.driver == "gdb" and b.gdb_server == "127.0.0.1:3333"
    assert b.gdb_before_load == ("monitor reset halt",) and b.gdb_after_load == ("monitor reset run",)
    assert CFG.console.port.startswith("/dev/serial/by-id/")


def test_no_gdb_server_is_one_clear_error(tmp_path: Path) -> None:
    image = tmp_path / "fw.elf"
    image.write_bytes(b"\x7fELF")
    with open_target(CFG, tmp_path) as target:
        assert isinstance(target.board, FlashableBoard)
        t0 = time.monotonic()
        with pytest.raises(TargetError, match="no GDB server answers at 127.0.0.1:3333"):
            target.board.flash(image)
        assert time.monotonic() - t0 < 5
        assert not target.board.alive()
