"""Flashing over the GDB remote protocol, with Debian's gdb-multiarch.

OpenOCD, SEGGER's J-Link GDB Server, ``pyocd gdbserver`` and QEMU's gdbstub all
speak the GDB remote protocol, so one flasher serves them all: connect, run the
board file's commands before the load (``monitor reset halt`` on OpenOCD and
pyocd), ``load`` the ELF, verify it with ``compare-sections``, run the commands
after it (``monitor system_reset`` on QEMU, ``monitor reset run`` on OpenOCD and
pyocd, ``monitor reset`` on J-Link) and detach. gdb itself does the protocol
work; this module only builds the batch script, bounds it in time and reads
gdb's verdict on each section. Why gdb and not a hand-written RSP client: gdb's
``load`` knows ELF segments, flash regions the server reports (qXfer memory-map)
and the server quirks; re-implementing that would be the bug farm.

Limits measured here: a load and verify of the ~74 KB reference ELF over QEMU's
gdbstub takes about 0.15 s; QEMU's gdbstub takes one client at a time; HEX files
load but cannot be compared (no section table), so they are verified by nothing
and the flasher says so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.target.protocols import TargetError

GDB = "gdb-multiarch"
_MISMATCH = re.compile(r"^Section (\S+), range (\S+) -- (\S+): MIS-MATCHED!", re.M)
_MATCHED = re.compile(r"^Section (\S+), range \S+ -- \S+: matched\.", re.M)
_NO_SERVER = re.compile(r"Connection refused|Connection timed out|could not connect|No route to host|"
                        r"Remote replied unexpectedly|Remote connection closed", re.I)


@dataclass(frozen=True)
class FlashResult:
    """What a flash did: the sections gdb verified, and its output for the log."""

    image: Path
    verified: tuple[str, ...]  # section names compare-sections matched
    seconds: float
    output: str


@dataclass(frozen=True)
class GdbFlasher:
    """Load, verify and reset an image through a GDB server at ``server`` ("host:port")."""

    server: str
    before_load: tuple[str, ...] = ()  # e.g. ("monitor reset halt",)
    after_load: tuple[str, ...] = ()  # e.g. ("monitor system_reset",) or ("monitor reset run",)
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0  # the whole batch: a flash of a large image over SWD can take tens of seconds

    def argv(self, steps: list[str] | tuple[str, ...], image: Path | None = None) -> list[str]:
        """gdb in batch mode, no init files, a bounded connect, then ``steps``, then detach."""
        argv = [GDB, "-q", "-nx", "-batch"]
        for s in ("set pagination off", "set confirm off",
                  "set tcp auto-retry off",  # a dead port otherwise retries for ~15 s
                  f"set tcp connect-timeout {max(1, round(self.connect_timeout_s))}",
                  f"target remote {self.server}", *steps, "detach"):
            argv += ["-ex", s]
        return argv + ([str(image)] if image is not None else [])

    def load_steps(self, image: Path) -> list[str]:
        verify = [] if _is_hex(image) else ["compare-sections"]
        return [*self.before_load, "load", *verify, *self.after_load]

    def run(self, steps: list[str] | tuple[str, ...], image: Path | None = None, timeout_s: float | None = None) -> str:
        """Run one gdb batch; its output. Raises TargetError when no server answers or gdb hangs."""
        if shutil.which(GDB) is None:
            raise TargetError(f"{GDB} not found: apt-get install gdb-multiarch")
        limit = timeout_s or self.timeout_s
        try:
            r = subprocess.run(self.argv(steps, image), capture_output=True, text=True, timeout=limit,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TargetError(f"gdb via {self.server} did not finish {list(steps)} in {limit:.0f} s") from None
        out = r.stdout + r.stderr
        m = _NO_SERVER.search(out)
        if m:
            raise TargetError(f"no GDB server answers at {self.server}: {_line_of(out, m.start())}")
        return out

    def flash(self, image: Path) -> FlashResult:
        if not image.is_file():
            raise TargetError(f"firmware image {image} not found")
        t0 = time.monotonic()
        out = self.run(self.load_steps(image), image)
        return FlashResult(image, self._verified(image, out), time.monotonic() - t0, out)

    def _verified(self, image: Path, out: str) -> tuple[str, ...]:
        """The sections compare-sections matched; a clear error for each way a load can fail."""
        for pattern, what in (
            (r"not in executable format|No such file", f"gdb cannot read {image.name} as an image"),
            (r"Load failed|Error erasing flash|Error writing data to flash|Memory access error",
             f"loading {image.name} failed"),
        ):
            m = re.search(pattern, out, re.I)
            if m:
                raise TargetError(f"{what}: {_line_of(out, m.start())}")
        bad = _MISMATCH.findall(out)
        if bad:
            sections = ", ".join(f"{name} {lo}..{hi}" for name, lo, hi in bad)
            raise TargetError(f"verify after load failed: {sections} differ from {image.name}")
        if "Start address" not in out:
            last = out.strip().splitlines()[-1] if out.strip() else "no output"
            raise TargetError(f"gdb did not load {image.name}: {last}")
        verified = tuple(_MATCHED.findall(out))
        if not _is_hex(image) and not verified:
            raise TargetError(f"compare-sections verified nothing after loading {image.name}")
        return verified


def _is_hex(image: Path) -> bool:
    return image.suffix.lower() in (".hex", ".ihex")


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else None].strip()


class GdbBoard:
    """FlashableBoard on a real board behind a GDB server (OpenOCD, J-Link GDB Server, pyocd gdbserver).

    The server owns the probe; the bench only talks to it in short gdb batches,
    so a server that hangs costs one time limit, never the run.
    """

    def __init__(self, name: str, flasher: GdbFlasher, reset: tuple[str, ...], halt: tuple[str, ...] = ()) -> None:
        self.name = name
        self.flasher = flasher
        self._reset = reset
        self._halt = halt
        self.last_flash: FlashResult | None = None
        self._powered = False

    def flash(self, image: Path) -> None:
        self.last_flash = self.flasher.flash(image)
        self._powered = True  # after_load leaves the core running the new image

    def power_on(self) -> None:
        if not self._powered:
            self.reset()

    def reset(self) -> None:
        self.flasher.run(self._reset, timeout_s=self.flasher.connect_timeout_s + 10)
        self._powered = True

    def power_off(self) -> None:
        """Halt the core (a GDB server cannot cut power)."""
        if self._powered and self._halt:
            try:
                self.flasher.run(self._halt, timeout_s=self.flasher.connect_timeout_s + 10)
            except TargetError:
                pass
        self._powered = False

    def alive(self) -> bool:
        return self._powered
