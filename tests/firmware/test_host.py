"""The firmware's pure-C protocol code (reply parsers, session machines, base64,
MD5), built for the host under AddressSanitizer and UBSan, and its reply parsers
fuzzed for a bounded time. Both are the firmware's own make targets."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from bench.config import project_root

TESTS = project_root() / "targets" / "firmware" / "tests"


def _make(target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(TESTS), target],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip


def test_unit_tests_pass_under_sanitizers() -> None:
    run = _make("check")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    summary = re.search(r"(\d+) passed, (\d+) failed", out)
    assert summary and int(summary.group(1)) > 0 and summary.group(2) == "0", out[-2000:]


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang (libFuzzer) not installed")
def test_reply_parsers_survive_bounded_fuzzing() -> None:
    run = _make("fuzz", FUZZ_SECONDS=os.environ.get("BENCH_FUZZ_SECONDS", "10"))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "crash-" not in out and "ERROR: AddressSanitizer" not in out, out[-3000:]
