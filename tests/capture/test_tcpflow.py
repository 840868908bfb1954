"""Reassembly and reading: retransmissions, reordering, overlap, wraparound, pcapng."""
from __future__ import annotations

from pathlib import Path

import pytest
from capture_helpers import DEV, SRV
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter

from bench.capture.pcap import read_frames
from bench.capture.synth import Conversation, Trace, pop3_session, smtp_session
from bench.capture.tcpflow import lines, read_connections


def test_clean_sessions_ipv4_and_ipv6(tmp_path: Path):
    t = Trace()
    smtp_session(t, (DEV, 49153), (SRV, 25))
    pop3_session(t, ("fec0::15", 49154), ("fec0::2", 110))
    conns = read_connections(t.write(tmp_path / "a.pcap"))
    assert [(c.client, c.server, c.ip_version, c.closed_by) for c in conns] == [
        ((DEV, 49153), (SRV, 25), 4, "client"), (("fec0::15", 49154), ("fec0::2", 110), 6, "client")]
    smtp, pop = conns
    assert smtp.c2s.syn_mss == 1460 and pop.c2s.syn_mss == 1440
    assert smtp.c2s.fin and smtp.s2c.fin and not smtp.c2s.rst
    assert smtp.s2c.stream.startswith(b"220 mail.test ESMTP\r\n250-mail.test\r\n")
    assert [s.flags for s in smtp.c2s.segments[:3]] == ["S", "A", "A"]
    assert smtp.s2c.segments[0].flags == "SA" and smtp.s2c.segments[0].mss == 1460
    assert pop.c2s.segments[0].ip_header_len == 40
    assert smtp.start == t.frames[0][0] and smtp.end == t.frames[30][0]
    cmds = lines(pop.c2s)
    assert [ln.text for ln in cmds] == [b"USER mrose\r\n", b"PASS tanstaaf\r\n", b"STAT\r\n", b"RETR 1\r\n",
                                        b"QUIT\r\n"]
    assert cmds[0].packets == (37,) and cmds[0].offset == 0 and cmds[1].offset == 12
    assert abs(cmds[0].time - t.frames[36][0]) < 1e-6


def test_overlap_wraparound_and_line_across_segments(tmp_path: Path):
    t = Trace()
    c = Conversation(t, (DEV, 50000), (SRV, 25), client_isn=(1 << 32) - 5)  # seq wraps mid-stream
    c.handshake()
    a = c.packet("c", b"HELLO wor")
    over = c.packet("c", b"world\r\nBYE", offset=6)  # re-sends "wor", adds "ld\r\nBYE"
    tail = c.packet("c", b"\r\n")
    c.close("s")
    conn = read_connections(t.write(tmp_path / "b.pcap"))[0]
    assert conn.c2s.stream == b"HELLO world\r\nBYE\r\n"
    assert [s.index for s in conn.c2s.segments if s.retransmission] == [over]
    got = lines(conn.c2s)
    assert [(ln.text, ln.packets) for ln in got] == [(b"HELLO world\r\n", (a, over)), (b"BYE\r\n", (over, tail))]
    assert conn.c2s.packet_at(0) == a and conn.c2s.packet_at(9) == over
    assert conn.closed_by == "server"


def test_port_reuse_gives_two_connections(tmp_path: Path):
    t = Trace()
    for isn in (1000, 90000):
        c = Conversation(t, (DEV, 49153), (SRV, 25), client_isn=isn, server_isn=isn * 3)
        c.handshake()
        c.packet("c", b"QUIT\r\n")
        c.close("c")
    conns = read_connections(t.write(tmp_path / "c.pcap"))
    assert len(conns) == 2 and all(c.c2s.stream == b"QUIT\r\n" for c in conns)


def test_syn_retransmission_is_marked(tmp_path: Path):
    t = Trace()
    c = Conversation(t, (DEV, 49153), (SRV, 25))
    c.packet("c", flags="S", mss=1460)
    again = c.packet("c", flags="S", mss=1460)
    c.packet("s", flags="SA", mss=1460)
    conns = read_connections(t.write(tmp_path / "d.pcap"))
    assert len(conns) == 1
    assert [s.index for s in conns[0].c2s.segments if s.retransmission] == [again]


def test_capture_starting_mid_connection(tmp_path: Path):
    t = Trace()
    c = Conversation(t, (DEV, 49153), (SRV, 110))
    c.next["c"] = 40
    c.next["s"] = 500
    c.packet("s", b"+OK\r\n")
    c.packet("c", b"QUIT\r\n")
    conn = read_connections(t.write(tmp_path / "e.pcap"))[0]
    assert conn.client == (DEV, 49153) and conn.c2s.stream == b"QUIT\r\n" and not conn.c2s.gaps


def test_pcapng_reads_like_pcap(tmp_path: Path):
    t = Trace()
    smtp_session(t, (DEV, 49153), (SRV, 25))
    pcap = t.write(tmp_path / "f.pcap")
    ng = tmp_path / "f.pcapng"
    w = PcapNgWriter(str(ng))
    for ts, frame in t.frames:
        p = Ether(frame)
        p.time = ts
        w.write(p)
    w.close()
    a, b = read_connections(pcap)[0], read_connections(ng)[0]
    assert a.c2s.stream == b.c2s.stream and a.s2c.stream == b.s2c.stream
    assert [s.index for s in a.c2s.segments] == [s.index for s in b.c2s.segments]
    assert [f.time for f in read_frames(ng)] == pytest.approx([f.time for f in read_frames(pcap)], abs=2e-6)
