"""Annotated pcapng: offending packets carry the criterion in a comment; frames unchanged."""
from __future__ import annotations

from pathlib import Path

from capture_helpers import LIMITS, Judged, exchange, smtp_mail, smtp_open, smtp_quit
from scapy.utils import rdpcap

from bench.capture.annotate import annotate, read_comments
from bench.capture.pcap import read_frames
from bench.capture.synth import Trace
from bench.capture.tcpflow import read_connections


def test_failed_verdict_packets_carry_comments(tmp_path: Path):
    t = Trace()
    c = smtp_open(t)
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n")
    r1, _ = exchange(c, b"RCPT TO:<b@test>\r\n", b"250 ok\r\n")
    r2, _ = exchange(c, b"RCPT TO:<c@test>\r\n", b"250 ok\r\n")
    smtp_quit(c)
    j = Judged(t, tmp_path / "run.pcap", LIMITS)
    out = annotate(j.path, j.verdicts)
    assert out == tmp_path / "run.annotated.pcapng"
    notes = read_comments(out)
    assert sorted(notes) == [r1[0], r2[0]]
    assert notes[r1[0]][0].startswith("SMTP-MAIL-1 FAIL: not exactly one RCPT per mail: 2 RCPT commands")
    # frames identical, timestamps exact, and the pcapng reads back as the same connections
    a, b = list(read_frames(j.path)), list(read_frames(out))
    assert [(f.data, f.ns) for f in a] == [(f.data, f.ns) for f in b]
    assert read_connections(out)[0].c2s.stream == j.connections[0].c2s.stream
    # an independent reader sees the comments on the same frames
    pkts = rdpcap(str(out))
    assert [i + 1 for i, p in enumerate(pkts) if p.comments] == [r1[0], r2[0]]
    assert b"SMTP-MAIL-1" in pkts[r1[0] - 1].comments[0]


def test_no_failures_no_comments(tmp_path: Path):
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    smtp_quit(c)
    j = Judged(t, tmp_path / "ok.pcap", LIMITS)
    assert all(v.passed for v in j.verdicts)
    assert read_comments(annotate(j.path, j.verdicts)) == {}
