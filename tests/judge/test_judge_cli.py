"""``bench judge`` as a command: pcap and pcapng alike, limits and ports from the
command line or a target file, one-line errors with their exit codes (no root)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scapy.utils import PcapNgWriter, rdpcap

from bench.capture.synth import Trace, pop3_session, smtp_session
from bench.judge import CaptureLimits, judge_capture

DEV, SRV = "10.0.2.15", "10.0.2.2"


def bench_judge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", "judge", *args], capture_output=True, text=True,
                          timeout=120)


def two_sessions(path: Path, seg: int = 536) -> Path:
    t = Trace()
    smtp_session(t, (DEV, 40001), (SRV, 2525), body=b"Subject: hi\r\n\r\n" + (b"z" * 70 + b"\r\n") * 40, seg=seg)
    pop3_session(t, (DEV, 40002), (SRV, 1110))
    return t.write(path)


def test_pcapng_judged_like_the_pcap_ports_found_from_the_greetings(tmp_path: Path):
    pcap = two_sessions(tmp_path / "two.pcap")
    ng = tmp_path / "two.pcapng"
    with PcapNgWriter(str(ng)) as w:  # scapy's writer, not the bench's
        for p in rdpcap(str(pcap)):
            w.write(p)
    a = judge_capture(pcap, CaptureLimits(), tmp_path / "a", report=False)
    b = judge_capture(ng, CaptureLimits(), tmp_path / "b", report=False)
    assert [(v.criterion, v.outcome, v.subject) for v in a.verdicts] == \
           [(v.criterion, v.outcome, v.subject) for v in b.verdicts]
    assert {"SMTP-MAIL-1", "POP-WIRE-1"} <= {v.criterion for v in a.verdicts} and a.passed


def test_limits_from_the_command_line_and_the_target_file(tmp_path: Path):
    pcap = two_sessions(tmp_path / "two.pcap", seg=1000)
    ok = bench_judge(str(pcap), "--out", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    small = bench_judge(str(pcap), "--smtp-payload", "536", "--criteria", "SMTP-MAIL-3", "--out", str(tmp_path / "s"))
    assert small.returncode == 1 and small.stdout.startswith("FAIL         SMTP-MAIL-3")
    verdicts = json.loads((tmp_path / "s" / "verdicts.json").read_text())["tests"][0]["verdicts"]
    assert [(v["criterion"], v["outcome"]) for v in verdicts] == [("SMTP-MAIL-3", "fail")]
    # a target whose device is another address: no connection is the device's, so nothing to judge
    other = bench_judge(str(pcap), "--target", "mps2-an385-tap", "--criteria", "NET-WIRE-1", "--out", str(tmp_path / "t"))
    assert other.returncode == 1 and "INCONCLUSIVE NET-WIRE-1" in other.stdout
    ports = bench_judge(str(pcap), "--pop3-port", "1110", "--out", str(tmp_path / "p"))  # SMTP no longer known
    crits = {v["criterion"] for v in json.loads((tmp_path / "p" / "verdicts.json").read_text())["tests"][0]["verdicts"]}
    assert ports.returncode == 0 and "POP-WIRE-1" in crits and "SMTP-MAIL-1" not in crits


def test_errors_are_one_line_with_their_exit_codes(tmp_path: Path):
    missing = bench_judge(str(tmp_path / "none.pcap"))
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    bad = bench_judge(str(junk), "--out", str(tmp_path / "j"))
    assert bad.returncode == 3 and bad.stderr.startswith("bench judge:") and "\n" not in bad.stderr.strip()
    crit = bench_judge(str(two_sessions(tmp_path / "x.pcap")), "--criteria", "POP-AUTH-1", "--out", str(tmp_path / "c"))
    assert crit.returncode == 2 and "not a wire criterion: POP-AUTH-1" in crit.stderr
