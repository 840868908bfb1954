"""A target assembled from its file: board, console, wire tap and network facts.

``open_target`` is the only place that knows which driver serves which
resource; everything above it sees the protocols in ``protocols.py``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import TargetConfig
from bench.target.protocols import Console, FlashableBoard, TargetError, WireTap


@dataclass
class Target:
    config: TargetConfig
    board: FlashableBoard
    console: Console
    tap: WireTap | None  # None when the target has no capture source

    @property
    def name(self) -> str:
        return self.config.name


def _live_tap(config: TargetConfig, interface: str = "") -> WireTap:
    """Live capture on the tap the bench made (``interface``: offloads turned off) or on the NIC it was given."""
    from bench.capture.live import LiveCapture

    return LiveCapture(interface or config.capture.interface or config.network.interface, owned=bool(interface))


def _probe_board(config: TargetConfig) -> FlashableBoard:
    """A real board behind a debug probe: pyocd's API, or any GDB server."""
    b = config.board
    if b.driver == "gdb":
        from bench.target.gdb import GdbBoard, GdbFlasher

        flasher = GdbFlasher(b.gdb_server, before_load=b.gdb_before_load, after_load=b.gdb_after_load)
        return GdbBoard(config.name, flasher, reset=b.gdb_reset, halt=b.gdb_halt)
    from bench.target.pyocd_board import PyOCDBoard

    return PyOCDBoard(config.name, b)


def _tap_network(config: TargetConfig, dev: Any) -> Any:
    """The [network] of this run: the tap's name and the addresses it got (another subnet
    than the file's when another run holds that one); the device is given them by net.config."""
    binds = tuple(a for a in (dev.host_ip, dev.host_ip6) if a)
    return config.network.model_copy(update={
        "interface": dev.name, "server_ip": dev.host_ip, "device_ip": dev.guest_ip,
        "server_ip6": dev.host_ip6, "device_ip6": dev.guest_ip6, "bind": binds})


@contextlib.contextmanager
def open_target(config: TargetConfig, workdir: Path) -> Iterator[Target]:
    """Build the drivers for ``config``; power everything off on the way out, whatever happened.
    ``Target.config`` is the run's: in tap mode it names the tap and the addresses it got."""
    workdir.mkdir(parents=True, exist_ok=True)
    if config.board.driver == "qemu":
        from bench.target.qemu import QemuBoard, QemuConsole, QemuDumpTap, QemuProcess

        with contextlib.ExitStack() as stack:
            tap_ifname, tap_fd = "", -1
            if config.network.mode == "tap":  # the bench makes the device, and removes it
                from bench.capture.tap import TapDevice

                dev = stack.enter_context(TapDevice.for_network(config.network))
                tap_ifname, tap_fd = dev.name, dev.fd
                config = config.model_copy(update={"network": _tap_network(config, dev)})
            qemu = QemuProcess(config.board, config.network, workdir, tap_ifname=tap_ifname, tap_fd=tap_fd)
            board = QemuBoard(config.name, qemu)
            tap: WireTap | None = None
            if config.capture.source == "filter-dump":
                tap = QemuDumpTap(qemu)
            elif config.capture.source == "live":
                tap = _live_tap(config, tap_ifname)
            target = Target(config, board, QemuConsole(qemu), tap)
            try:
                yield target
            finally:
                if tap is not None:
                    tap.stop()
                qemu.stop()
    elif config.board.driver == "native":  # a Linux process in a namespace the bench makes (targets/native)
        from bench.target.native import NativeBoard, PtyConsole, VethLink

        with VethLink.for_network(config.network) as link:
            native = NativeBoard(config.name, link, workdir, config.console.baudrate)
            ntap = _live_tap(config, link.host_if) if config.capture.source == "live" else None
            try:
                yield Target(config, native, PtyConsole(native), ntap)
            finally:
                if ntap is not None:
                    ntap.stop()
                native.power_off()
    elif config.board.driver in ("pyocd", "gdb"):
        from bench.target.serial_console import SerialConsole

        with contextlib.ExitStack() as stack:
            if config.lab is not None:  # a labgrid place: reserved, acquired, released and cancelled
                from bench.target.labgrid import LabgridPlace, bind

                config = bind(config, stack.enter_context(LabgridPlace(config.lab, workdir / "labgrid.log")))
            board_ = _probe_board(config)
            console = SerialConsole(config.console.port, config.console.baudrate)
            tap_ = _live_tap(config) if config.capture.source == "live" else None
            try:
                yield Target(config, board_, console, tap_)
            finally:
                if tap_ is not None:
                    tap_.stop()
                console.close()
                board_.power_off()
    else:  # load_target validates this; kept for a clear message on hand-built configs
        raise TargetError(f"no driver for board {config.board.driver!r}")
