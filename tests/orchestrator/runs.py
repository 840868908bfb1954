"""Helpers for the tests that run ``bench run`` as a real process and do it harm."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: a quick subset of the acceptance suite (~8 tests, a few seconds): enough to be between tests
QUICK = "err_reply_reported or auth_refused or bad_password or full_session"
#: the same plus the 100-round soak (~15 s): a long test to be inside of
WITH_SOAK = QUICK + " or soak"
PASSWORDS = ("tanstaaf", "s3cret-pw")


@dataclass
class Run:
    proc: subprocess.Popen[str]
    run_dir: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def verdicts(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "verdicts.json").read_text())

    def tests_done(self) -> int:
        try:
            return len(self.verdicts()["tests"])
        except (OSError, ValueError, KeyError):
            return -1  # not written yet

    def wait_for(self, tests: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while self.tests_done() < tests:
            assert self.proc.poll() is None, f"bench ended early ({self.proc.returncode}): {self.output()}"
            assert time.monotonic() < deadline, f"{tests} tests not done in {timeout} s"
            time.sleep(0.05)

    def finish(self, timeout: float = 120.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self._out, self._err = out, err
        return self.proc.returncode, out, err

    def output(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        out, err = self.proc.communicate()
        return out + err

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def ctrl_c(self) -> None:
        """SIGINT to the bench's process group (start it with ``own_group``), as a terminal's Ctrl-C."""
        os.killpg(self.pid, signal.SIGINT)


def start(run_dir: Path | None, *args: str, k: str = QUICK, target: str = "mps2-an385",
          prefix: tuple[str, ...] = (), env: dict[str, str] | None = None, own_group: bool = False) -> Run:
    """``bench run`` as a process; ``own_group``: in a process group of its own, as a terminal's
    foreground job (``Run.ctrl_c`` signals the whole group, as a terminal does)."""
    argv = [*prefix, sys.executable, "-m", "bench.cli", "run", "--target", target]
    if run_dir is not None:
        argv += ["--run-dir", str(run_dir)]
    argv += [*args, "--", "-k", k]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=own_group)
    return Run(proc, run_dir or Path())


def bench_processes(pid: int) -> list[str]:
    """Processes that belong to the bench of ``pid``: its QEMUs carry its QMP socket path."""
    mark = f"/{pid}-qmp".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == pid:
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if mark in cmd:
            shown = cmd.replace(b"\0", b" ")[:120]
            found.append(f"{proc.name}: {shown!r}")
    return found


def bench_taps(pid: int) -> list[str]:
    return [p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith(f"mbt{pid}x")]


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """No QEMU and no tap of bench ``pid`` left (QEMU dies with the bench; give the kernel a moment)."""
    deadline = time.monotonic() + timeout
    while (bench_processes(pid) or bench_taps(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not bench_processes(pid), f"left running: {bench_processes(pid)}"
    assert not bench_taps(pid), f"taps left: {bench_taps(pid)}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"bench {pid} still running")


def junit_cases(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter("testcase"))


def no_passwords(run_dir: Path) -> list[str]:
    """Files of a run (other than the pcaps, which hold what went on the wire) that hold a password."""
    bad = []
    for p in run_dir.rglob("*"):
        if p.is_file() and p.suffix not in (".pcap", ".pcapng"):
            data = p.read_bytes()
            bad += [f"{p.relative_to(run_dir)}: {pw}" for pw in PASSWORDS if pw.encode() in data]
    return bad


def kill_quietly(run: Run) -> None:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGKILL)
        run.proc.wait(10)


def family(pid: int) -> dict[int, tuple[str, str]]:
    """Every live descendant of ``pid``: {pid: (start time, command line)}; the start time tells a
    process from a later one that reuses its pid."""
    from bench.runtime import descendants

    found: dict[int, tuple[str, str]] = {}
    for kid, start in descendants(pid).items():
        try:
            cmd = (Path(f"/proc/{kid}") / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[kid] = (start, cmd[:120])
    return found


def alive(procs: dict[int, tuple[str, str]]) -> list[str]:
    """Those of ``procs`` still running. A zombie counts as gone only once it is the last of its
    threads: a main thread shows Z while the process's other threads still exit, holding its files
    (a board's lock among them)."""
    from bench.runtime import start_time

    left = []
    for pid, (start, cmd) in procs.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            threads = [t.name for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue
        if start_time(pid) == start and (state != "Z" or threads != [str(pid)]):
            left.append(f"{pid}: {cmd}")
    return left
