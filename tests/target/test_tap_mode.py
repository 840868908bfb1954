"""The emulated board on a bench-made tap device with live capture: real frames
on a host interface, as a lab bench with a real NIC sees them (needs root)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.capture.tcpflow import read_connections
from bench.checks.verdict import Outcome
from bench.config import load_target
from bench.session import bench_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
import workloads as wl  # noqa: E402

pytestmark = [pytest.mark.emulated, pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="tap devices and live capture need root")]


def test_tap_mode_live_capture_judges_real_frames(tmp_path: Path) -> None:
    cfg = load_target("mps2-an385-tap")
    with bench_session(cfg, tmp_path) as session:
        session.boot()
        assert session.device.info.ip == session.config.network.device_ip  # net.config applied (the run's subnet)
        for workload in (replace(wl.one_mail(4), criteria=wl.ONE_MAIL), replace(wl.one_mail(6), criteria=wl.ONE_MAIL),
                         replace(wl.pop3_session(4), criteria=wl.POP_SESSION)):  # their tests' markers
            evidence, verdicts = session.run(workload, workload.name)
            bad = [f"{v.criterion}: {v.summary}" for v in verdicts if v.outcome is not Outcome.PASS]
            assert verdicts and not bad, bad
            conns = read_connections(evidence.pcap)
            sent = sum(s.payload_len for c in conns for s in c.c2s.segments)
            assert conns and sent > 50, f"{len(conns)} connections, {sent} octets from the device"
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert f"mbt{os.getpid()}x" not in links, "tap device left behind"
