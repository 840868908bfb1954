"""One acceptance-suite run of the self-test: pytest on an image in its own process group, taken down whole."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.runtime import descendants, start_time

RUN_TIMEOUT_S = 1800  # one acceptance run; the suite takes ~20 s on a healthy image


def run_suite(root: Path, target: str, image: Path, run_dir: Path, extra: list[str]) -> int:
    """The acceptance suite on one image, in its own process group (Ctrl-C ends all of it,
    QEMU included). Output goes to <run_dir>/pytest.log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", str(root / "tests" / "acceptance"), "--target", target,
            "--image", str(image), "--run-dir", str(run_dir), "--junitxml", str(run_dir / "junit.xml"),
            "-q", "-p", "no:cacheprovider", *extra]
    with open(run_dir / "pytest.log", "w") as out:
        proc = subprocess.Popen(argv, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=RUN_TIMEOUT_S)
        except BaseException:  # Ctrl-C or the timeout: take the whole group down
            _kill_group(proc)
            raise


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGINT first (pytest tears its fixtures down: the plugin stops QEMU), then
    SIGTERM, then SIGKILL. QEMU runs in its own session, so the processes pytest
    started are noted first and, if still alive at the end, killed by pid."""
    started = set(descendants(proc.pid).items())
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            started |= set(descendants(proc.pid).items())
    for pid, start in started:
        if start_time(pid) == start:  # the same process, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
