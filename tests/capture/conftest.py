"""Capture tests: helpers on the path, a fixture that writes, reads and judges a trace."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from capture_helpers import LIMITS, Judged  # noqa: E402

from bench.capture.synth import Trace  # noqa: E402
from bench.checks.wire import WireLimits  # noqa: E402


@pytest.fixture
def judge_trace(tmp_path: Path):
    def run(trace: Trace, limits: WireLimits = LIMITS) -> Judged:
        return Judged(trace, tmp_path / "wire.pcap", limits)
    return run
