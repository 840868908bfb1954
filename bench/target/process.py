"""Child processes that cannot outlive the bench."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child, before exec
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def spawn(argv: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, killed if the bench dies; output to ``log``."""
    out = log.open("ab")
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            cwd=cwd,
        )
    finally:
        out.close()


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
