"""QEMU as the resource behind the emulated board, its console and its wire tap.

One QEMU process serves three protocols: ``QemuBoard`` (FlashableBoard),
``QemuConsole`` (Console: serial0 over a TCP chardev, reached with pyserial) and
``QemuDumpTap`` (WireTap: QEMU's ``filter-dump``, swapped per test over QMP so
each test gets its own pcap without rebooting the board).

Boot output is never lost: QEMU starts paused (``-S``) with its serial chardev
in server mode, waiting for the bench to connect (``wait=on``); the bench then
connects QMP, installs the capture and only then lets the CPU run.
"""
from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serial
from qemu.qmp import ConnectError, ExecuteError, QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol

from bench import runtime, signals
from bench.capture.pcap import shift_timestamps
from bench.config import BoardConfig, NetworkConfig
from bench.target.gdb import FlashResult, GdbFlasher
from bench.target.process import kill_now, spawn, terminate
from bench.target.protocols import TargetError

NETDEV_ID = "n0"
DUMP_ID = "wiretap0"
_instances = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class QemuProcess:
    """The running emulator: its process, console socket and monitor."""

    board: BoardConfig
    network: NetworkConfig
    workdir: Path
    tap_ifname: str = ""  # tap mode: the device the bench created
    tap_fd: int = -1  # tap mode: its fd, which QEMU inherits (the tap lives while one of them holds it)
    proc: Any = None
    serial_port: int = 0
    gdb_port: int = 0  # board.flasher == "gdb": QEMU's gdbstub, the image comes over it
    qmp: QEMUMonitorProtocol | None = None
    console: serial.SerialBase | None = None
    clock_zero: float = 0.0  # host time the CPU was first let run: QEMU's virtual clock zero
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "qemu.log"
        self._qmp_name = f"qmp{next(_instances)}.sock"
        self.qmp_path = runtime.state_dir() / self._qmp_name

    def argv(self, image: Path) -> list[str]:
        exe = shutil.which("qemu-system-arm")
        if exe is None:
            raise TargetError("qemu-system-arm not found: install Debian's qemu-system-arm (see README)")
        if self.network.mode == "tap":
            if self.tap_fd < 0:
                raise TargetError("tap network mode needs a tap device (bench.capture.tap)")
            netdev = f"tap,id={NETDEV_ID},fd={self.tap_fd}"
        else:
            netdev = f"user,id={NETDEV_ID}"
        return [
            exe, "-M", self.board.machine, "-cpu", self.board.cpu, "-m", "16M",
            "-nographic", "-monitor", "none", "-S",
            *self._loader(image),
            "-netdev", netdev, "-net", f"nic,netdev={NETDEV_ID},model=lan9118",
            "-chardev", f"socket,id=uart0,host=127.0.0.1,port={self.serial_port},server=on,wait=on,nodelay=on",
            "-serial", "chardev:uart0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *self.board.extra_args,
        ]  # fmt: skip

    def _loader(self, image: Path) -> list[str]:
        """``-kernel`` loads the image at start; with the GDB flasher QEMU starts empty and halted."""
        if self.board.flasher == "gdb":
            return ["-gdb", f"tcp:127.0.0.1:{self.gdb_port}"]
        return ["-kernel", str(image)]

    def start(self, image: Path, timeout: float = 10.0) -> None:
        self.stop()  # what a crashed predecessor left: its monitor connection, console and process
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.qmp_path = runtime.socket_path(self._qmp_name)  # per process, short (AF_UNIX), swept if we die
        self.qmp_path.unlink(missing_ok=True)
        self.serial_port = _free_port()
        self.gdb_port = _free_port() if self.board.flasher == "gdb" else 0
        self.proc = spawn(self.argv(image), self.log, pass_fds=(self.tap_fd,) if self.tap_fd >= 0 else ())
        signals.on_emergency(self.kill)
        deadline = time.monotonic() + timeout
        self.console = self._retry(deadline, self._connect_serial)
        self.qmp = self._retry(deadline, self._connect_qmp)

    def _retry(self, deadline: float, connect: Any) -> Any:
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TargetError(f"QEMU exited with {self.proc.returncode} at start: see {self.log}")
            try:
                return connect()
            except (OSError, serial.SerialException, ConnectError) as exc:
                last = exc
                time.sleep(0.02)
        raise TargetError(f"QEMU did not come up in time ({last}); see {self.log}")

    def _connect_serial(self) -> serial.SerialBase:
        return serial.serial_for_url(f"socket://127.0.0.1:{self.serial_port}", timeout=0.1)

    def _connect_qmp(self) -> QEMUMonitorProtocol:
        qmp = QEMUMonitorProtocol(str(self.qmp_path))
        qmp.connect()
        return qmp

    def command(self, cmd: str, **args: object) -> object:
        if self.qmp is None or not self.running():
            raise TargetError(f"QEMU is not running; see {self.log}")
        try:
            return self.qmp.cmd(cmd, **args)
        except ExecuteError as exc:
            raise TargetError(f"QEMU refused {cmd}: {exc}") from None
        except (OSError, EOFError, QMPError) as exc:  # ExecInterruptedError: QEMU died mid-command
            raise TargetError(f"QEMU monitor lost during {cmd}: {self.failure_cause() or exc}") from None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """At once, no questions (a second Ctrl-C)."""
        if self.proc is not None and self.proc.poll() is None:
            kill_now(self.proc)

    def failure_cause(self, wait: float = 1.0) -> str | None:
        """QEMU's own fatal line (``qemu: fatal: Lockup ...``) or, if it exited, its last words.
        A QEMU that is dying (the console just closed) is given ``wait`` seconds to exit."""
        if self.proc is not None and self.proc.poll() is None and wait > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            text = ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ": info: " not in ln]
        fatal = next((ln for ln in lines if ln.startswith("qemu: fatal:")), None) or next(
            (ln for ln in lines if ln.startswith("qemu-system-")), None)
        exited = self.proc is not None and self.proc.poll() is not None
        if fatal:
            return fatal + (f" (QEMU exited with {self.proc.returncode})" if exited else "")
        if exited:
            return f"QEMU exited with {self.proc.returncode}" + (f": {lines[-1]}" if lines else "")
        return None

    def stop(self) -> None:
        if self.qmp is not None:
            qmp = self.qmp
            for step in (lambda: self.running() and qmp.cmd("quit"), qmp.close):
                try:
                    step()
                except Exception:  # noqa: BLE001 - QEMU may already be gone; terminate below
                    pass
                except KeyboardInterrupt:  # a first signal that landed in qemu.qmp's reader task is kept there
                    if signals.received() is None:  # and raised again here: stop QEMU all the same
                        raise
            self.qmp = None
        if self.console is not None:
            self.console.close()
            self.console = None
        if self.proc is not None:
            terminate(self.proc)
            signals.forget_emergency(self.kill)
            self.proc = None
        runtime.release_socket(self.qmp_path)


class QemuBoard:
    """FlashableBoard on QEMU: flashing records the image; power-on boots it.

    With ``flasher = "gdb"`` power-on starts QEMU empty and halted and sends the
    image over QEMU's gdbstub with the same ``GdbFlasher`` a real board's GDB
    server gets: load, ``compare-sections``, ``monitor system_reset``.
    """

    def __init__(self, name: str, qemu: QemuProcess) -> None:
        self.name = name
        self.qemu = qemu
        self.image: Path | None = None
        self.last_flash: FlashResult | None = None
        self._on_start: list[Any] = []  # run after start, before the CPU runs

    def before_run(self, hook: Any) -> None:
        self._on_start.append(hook)

    def flash(self, image: Path) -> None:
        if not image.is_file():
            raise TargetError(f"firmware image {image} not found: build it first (make -C targets/firmware install)")
        self.image = image
        if self.qemu.running():  # a running board takes a new image by restarting
            self.power_off()
            self.power_on()

    def power_on(self) -> None:
        if self.image is None:
            raise TargetError("no image flashed")
        self.qemu.start(self.image)
        for hook in self._on_start:
            hook()
        if self.qemu.board.flasher == "gdb":  # gdb's detach lets the CPU run
            self.last_flash = GdbFlasher(f"127.0.0.1:{self.qemu.gdb_port}",
                                         after_load=self.qemu.board.gdb_after_load).flash(self.image)
        self.qemu.clock_zero = time.time()  # QEMU's virtual clock starts at this cont
        self.qemu.command("cont")

    def power_off(self) -> None:
        self.qemu.stop()

    def reset(self) -> None:
        self.qemu.command("system_reset")

    def alive(self) -> bool:
        return self.qemu.running()

    def failure_cause(self) -> str | None:
        """Why the board is not running, in QEMU's words (None if QEMU has nothing to say)."""
        return self.qemu.failure_cause()


class QemuConsole:
    """Console on QEMU's serial0: the socket connected when QEMU started."""

    def __init__(self, qemu: QemuProcess) -> None:
        self.qemu = qemu

    def open(self) -> serial.SerialBase:
        if self.qemu.console is None:
            raise TargetError("the board is not powered: no console")
        return self.qemu.console

    def close(self) -> None:  # the socket lives as long as QEMU
        pass


class QemuDumpTap:
    """WireTap via QEMU's filter-dump: exactly the frames the guest NIC sends and receives.

    filter-dump stamps a frame with the wall-clock second the dump was opened
    plus QEMU's virtual clock, which counts from the first ``cont``. ``stop`` moves
    the stamps onto the host clock, which the bench's other evidence uses:
    host time = stamp - dump-open second + host time of that ``cont``.
    """

    def __init__(self, qemu: QemuProcess) -> None:
        self.qemu = qemu
        self.current: Path | None = None
        self._opened_second = 0

    def start(self, pcap: Path) -> None:
        if self.current is not None:
            self.stop()
        pcap.parent.mkdir(parents=True, exist_ok=True)
        before = time.time()
        self.qemu.command(
            "object-add", **{"qom-type": "filter-dump", "id": DUMP_ID, "netdev": NETDEV_ID, "file": str(pcap)}
        )
        self._opened_second = int(before)
        self.current = pcap

    def stop(self) -> Path | None:
        pcap, self.current = self.current, None
        if pcap is not None and self.qemu.running():
            try:
                self.qemu.command("object-del", id=DUMP_ID)  # closes (flushes) the file
            except TargetError:
                if self.qemu.running():
                    raise
                return pcap  # QEMU died meanwhile: the dump holds what it wrote, on QEMU's clock
            offset = self.qemu.clock_zero - self._opened_second
            shift_timestamps(pcap, round(offset * 1e9))
        return pcap
