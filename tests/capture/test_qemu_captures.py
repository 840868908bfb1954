"""Real QEMU filter-dump captures (reference firmware, lwIP, mps2-an385) and the dump source."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bench.capture.dialogue import pop3_dialogue, smtp_dialogue
from bench.capture.sources import CaptureError, FilterDumpCapture
from bench.capture.tcpflow import lines, read_connections
from bench.checks.wire import WireLimits, check_wire

DATA = Path(__file__).parent / "data"


def test_qemu_smtp_over_ipv6():
    path = DATA / "qemu-smtp-ipv6.pcap"
    (c,) = read_connections(path)
    assert (c.client, c.server, c.ip_version, c.closed_by) == (("fec0::15", 62362), ("fec0::2", 34325), 6, "client")
    assert c.c2s.syn_mss == 1440 and c.s2c.syn_mss == 1440
    assert max(s.payload_len for s in c.c2s.segments) == 1024
    d = smtp_dialogue(c)
    assert [u.verb for u in d.units] == [b"EHLO", b"AUTH", b"AGRLDMLJZQBZM2NYZXQTCHC=", b"MAIL", b"RCPT",
                                         b"DATA", b"", b"QUIT"]
    assert [r.code for r in d.replies] == [b"220", b"250", b"334", b"235", b"250", b"250", b"354", b"250", b"221"]
    limits = WireLimits(1500, 1460, 1440, 120, 1024, pop3_ports=frozenset(), smtp_ports=frozenset({34325}))
    assert {v.criterion: v.outcome.value for v in check_wire([c], limits, path)} == {
        "NET-WIRE-1": "pass", "NET-WIRE-2": "pass", "SMTP-WIRE-1": "pass", "SMTP-CONN-1": "pass",
        "SMTP-MAIL-1": "pass", "SMTP-MAIL-3": "pass"}
    # the same device with a smaller declared payload: every full segment is cited
    small = WireLimits(1500, 1460, 1440, 120, 512, pop3_ports=frozenset(), smtp_ports=frozenset({34325}))
    m3 = [v for v in check_wire([c], small, path, ["SMTP-MAIL-3"])][0]
    assert m3.outcome.value == "fail"
    assert m3.evidence[0].packets == tuple(s.index for s in c.c2s.segments if s.payload_len > 512)


def test_qemu_pop3_over_ipv4():
    path = DATA / "qemu-pop3-ipv4.pcap"
    (c,) = read_connections(path)
    assert c.client == ("10.0.2.15", 62107) and c.server == ("10.0.2.2", 43167)
    assert [ln.text for ln in lines(c.c2s)][:3] == [b"USER mrose\r\n", b"PASS tanstaaf\r\n", b"STAT\r\n"]
    d = pop3_dialogue(c)
    assert len(d.replies) == len(d.units) + 1 and all(r.complete for r in d.replies)
    retr = [k for k, u in enumerate(d.units) if u.verb == b"RETR"]
    assert all(len(d.reply_to(k).lines) == 2 for k in retr)  # status line + ".\r\n"
    limits = WireLimits(1500, 1460, 1440, 120, 1024, pop3_ports=frozenset({43167}), smtp_ports=frozenset())
    assert {v.criterion: v.outcome.value for v in check_wire([c], limits, path)} == {
        "NET-WIRE-1": "pass", "NET-WIRE-2": "pass", "POP-WIRE-1": "pass", "POP-WIRE-2": "pass"}


@pytest.mark.emulated
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_filter_dump_args_are_accepted_by_qemu(tmp_path: Path):
    cap = FilterDumpCapture()
    cap.start(tmp_path / "dump.pcap")
    args = ["qemu-system-arm", "-M", "mps2-an385", "-S", "-display", "none", "-monitor", "none",
            "-serial", "none", "-nic", "user,id=n0,model=lan9118", *cap.qemu_args("n0")]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 5
        while not cap.path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        assert cap.stop() == tmp_path / "dump.pcap"
        assert cap.path.read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"  # pcap header written at once
        assert cap.dropped == 0
    finally:
        proc.kill()
        proc.wait(5)


def test_filter_dump_without_file_is_a_clear_error(tmp_path: Path):
    cap = FilterDumpCapture(tmp_path / "none.pcap")
    cap.start()
    with pytest.raises(CaptureError, match="QEMU wrote no capture"):
        cap.stop()
