"""Flashing over the GDB remote protocol, against QEMU's real gdbstub: load,
compare-sections, reset, boot; and each way it can fail ends in one clear error
within its time limit."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import load_target
from bench.session import bench_session
from bench.target.gdb import GdbFlasher
from bench.target.protocols import TargetError
from bench.target.qemu import QemuProcess

pytestmark = [pytest.mark.emulated,
              pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="no gdb-multiarch")]

CFG = load_target("mps2-an385-gdb")


@pytest.fixture
def halted_qemu(tmp_path: Path) -> Iterator[QemuProcess]:
    """QEMU with its gdbstub, no image, CPU halted: what the gdb flasher starts from."""
    qemu = QemuProcess(CFG.board, CFG.network, tmp_path)
    qemu.start(CFG.board.image)
    try:
        yield qemu
    finally:
        qemu.stop()


def test_target_file_starts_qemu_empty_with_a_gdbstub(tmp_path: Path) -> None:
    qemu = QemuProcess(CFG.board, CFG.network, tmp_path)
    qemu.gdb_port = 1234
    argv = qemu.argv(CFG.board.image)
    assert "-kernel" not in argv and "tcp:127.0.0.1:1234" in argv and "-S" in argv


def test_load_verify_reset_over_qemu_gdbstub(halted_qemu: QemuProcess) -> None:
    flasher = GdbFlasher(f"127.0.0.1:{halted_qemu.gdb_port}", after_load=("monitor system_reset",))
    result = flasher.flash(CFG.board.image)
    assert ".text" in result.verified and ".data" in result.verified
    halted_qemu.command("cont")
    console = halted_qemu.console
    assert console is not None
    console.timeout = 5
    assert console.read_until(b"\n").startswith(b"* boot proto=1")


def test_a_section_that_differs_after_load_is_a_failed_verify(halted_qemu: QemuProcess) -> None:
    # write over the start of .text after the load, then verify again: gdb must report the mismatch
    flasher = GdbFlasher(f"127.0.0.1:{halted_qemu.gdb_port}",
                         after_load=("set {int}0x200 = 0x12345678", "compare-sections"))
    with pytest.raises(TargetError, match=r"verify after load failed: \.text"):
        flasher.flash(CFG.board.image)


def test_hex_images_load_but_cannot_be_compared(halted_qemu: QemuProcess, tmp_path: Path) -> None:
    hexfile = tmp_path / "firmware.hex"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "ihex", str(CFG.board.image), str(hexfile)], check=True)
    result = GdbFlasher(f"127.0.0.1:{halted_qemu.gdb_port}").flash(hexfile)
    assert result.verified == ()
    assert "compare-sections" not in GdbFlasher("x:1").load_steps(hexfile)


def test_no_server_is_one_clear_error_quickly() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(TargetError, match=f"no GDB server answers at 127.0.0.1:{port}"):
        GdbFlasher(f"127.0.0.1:{port}").flash(CFG.board.image)
    assert time.monotonic() - t0 < 5, "tcp auto-retry must be off"


def test_a_server_that_never_answers_costs_one_time_limit() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(TargetError, match="did not finish|no GDB server"):
            GdbFlasher(f"127.0.0.1:{server.getsockname()[1]}", timeout_s=4).flash(CFG.board.image)
    finally:
        for c in held:
            c.close()
        server.close()
    assert time.monotonic() - t0 < 8


def test_a_missing_image_is_named() -> None:
    with pytest.raises(TargetError, match="not found"):
        GdbFlasher("127.0.0.1:1").flash(Path("/nonexistent/fw.elf"))


def test_session_boots_over_gdb_and_reflashes(tmp_path: Path) -> None:
    with bench_session(CFG, tmp_path) as session:
        session.boot()
        board = session.target.board  # type: ignore[union-attr]
        assert board.last_flash is not None and ".text" in board.last_flash.verified
        first = board.last_flash
        board.flash(CFG.board.image)  # a running board takes a new image by a fresh load
        assert board.last_flash is not first
        assert session.healthy_device().info.board == "mps2-an385"


def test_kernel_loader_is_the_default(tmp_path: Path) -> None:
    plain = CFG.board.model_copy(update={"flasher": "kernel"})
    argv = QemuProcess(plain, CFG.network, tmp_path).argv(CFG.board.image)
    assert "-kernel" in argv and "-gdb" not in argv


def test_gdb_board_resets_through_monitor_commands(halted_qemu: QemuProcess) -> None:
    """The real-board driver (GdbBoard) against QEMU's gdbstub as its server: flash, reset, banner again."""
    from bench.target.gdb import GdbBoard

    server = f"127.0.0.1:{halted_qemu.gdb_port}"
    board = GdbBoard("q", GdbFlasher(server, after_load=("monitor system_reset",)), reset=("monitor system_reset",))
    board.flash(CFG.board.image)
    assert board.alive()
    console = halted_qemu.console
    assert console is not None
    console.timeout = 5
    halted_qemu.command("cont")
    assert console.read_until(b"\n").startswith(b"* boot")
    halted_qemu.command("stop")  # QEMU's gdbstub wants a halted CPU to take a client
    board.reset()
    halted_qemu.command("cont")
    assert console.read_until(b"\n").startswith(b"* boot")
