"""Child processes that cannot outlive the bench."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when its parent dies (PR_SET_PDEATHSIG), even by
    SIGKILL; False when ``parent`` is already gone (it died before this took effect).

    The kernel sends it when the *thread* that forked this process ends: a parent must start its
    children from a thread that lives as long as it does (the bench starts them from its main thread)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except OSError:
        pass
    return os.getppid() == parent


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child, before exec
        os.setsid()  # a terminal's Ctrl-C goes to the bench, which stops the child in order
        if not die_with_parent(parent):  # the bench died before prctl took effect
            os._exit(1)

    return preexec


def spawn(argv: list[str], log: Path, pass_fds: tuple[int, ...] = (), cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, SIGKILLed by the kernel if the bench dies
    (even by SIGKILL: PR_SET_PDEATHSIG); output to ``log``; ``pass_fds`` inherited."""
    out = log.open("ab")
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_die_with(os.getpid()), pass_fds=pass_fds, cwd=cwd,
        )
    finally:
        out.close()


def kill_now(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group, without waiting."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def terminate(proc: subprocess.Popen[bytes], grace: float = 3.0) -> int | None:
    """SIGTERM the process group, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return proc.returncode
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()
