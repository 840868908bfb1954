"""Every fault action as it crosses a real link: the emulator's segments, captured.

A veth pair into a namespace (made and removed here), a kernel TCP client on the
far side, a live capture on the emulator's end. Each test asserts the segment
boundaries and bytes its action promises, so a fault plan cannot silently
degrade into the normal reply (issue 11: a split with no pacing left as one
segment). The same pacing through QEMU's user network is shown by the acceptance
suite's split workloads (their fault evidence reads the board's capture).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from server_helpers import PASSWORD
from wire_link import CLIENT, VethLink, Wire, captured, veth_link

from bench.servers.faults import FaultRule
from bench.servers.maildrop import Maildrop
from bench.servers.pacing import PeerQueue
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces and raw sockets")]

M1 = b"Subject: one\r\n\r\nbody one\r\n"
GREET = b"+OK POP3 mailbench ready <4242.1@bench.test>\r\n"
SMTP_GREET = b"220 bench.test ESMTP mailbench\r\n"
EHLO = b"250-bench.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
LOGIN = [["until", b"\r\n".hex()], ["send", b"USER device\r\n".hex()], ["until", b"PASS\r\n".hex()],
         ["send", f"PASS {PASSWORD}\r\n".encode().hex()], ["until", b"octets)\r\n".hex()]]
STAT_OK = f"+OK 1 {len(M1)}\r\n".encode()


@pytest.fixture(scope="module")
def link() -> Iterator[VethLink]:
    with veth_link() as lk:
        yield lk


def pop3(link: VethLink, *rules: FaultRule) -> Pop3Emulator:
    return Pop3Emulator(maildrops={"device": Maildrop(password=PASSWORD, messages=[M1])}, bind=link.host_ip,
                        faults=list(rules), quit_wait=0.2, timestamp="<4242.{session}@bench.test>")


def smtp(link: VethLink, *rules: FaultRule) -> SmtpEmulator:
    return SmtpEmulator(users={"device": PASSWORD}, bind=link.host_ip, faults=list(rules), quit_wait=0.2)


def exchange(link: VethLink, srv, script, tmp_path) -> tuple[Wire, bytes, str]:  # type: ignore[no-untyped-def]
    """Run ``script`` against ``srv`` on the link; the capture, what arrived, how it ended."""
    got: list[tuple[bytes, str]] = []
    with srv:
        wire = captured(link, srv.port, lambda: got.append(link.client(srv.port, script)), tmp_path)
        assert srv.wait_sessions(1, 5)
    return wire, *got[0]


def test_split_leaves_one_segment_per_chunk(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, _ = exchange(link, smtp(link, FaultRule("EHLO", "split", size=1), FaultRule("greeting", "split", size=3)),
                            [["until", b"\r\n".hex()], ["send", b"EHLO board.test\r\n".hex()],
                             ["until", b"250 HELP\r\n".hex()], ["send", b"QUIT\r\n".hex()], ["for", 1]], tmp_path)
    assert got.startswith(SMTP_GREET + EHLO)
    greeting = [SMTP_GREET[i:i + 3] for i in range(0, len(SMTP_GREET), 3)]
    assert wire.payloads[:len(greeting) + len(EHLO)] == greeting + [bytes([b]) for b in EHLO]


def test_split_gap_spaces_the_segments(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, _ = exchange(link, pop3(link, FaultRule("greeting", "split", size=8, ms=30)),
                            [["until", b"\r\n".hex()], ["close"]], tmp_path)
    assert got == GREET
    segs = wire.segments
    assert wire.payloads == [GREET[i:i + 8] for i in range(0, len(GREET), 8)]
    assert all(b.time - a.time >= 0.025 for a, b in zip(segs, segs[1:]))


def test_unfaulted_reply_is_one_segment(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, _ = exchange(link, pop3(link), LOGIN + [["send", b"STAT\r\n".hex()], ["until", STAT_OK.hex()]], tmp_path)
    assert wire.payloads[0] == GREET and wire.payloads[-1] == STAT_OK


@pytest.mark.parametrize("action,line,expect", [
    ("reply", "-ERR injected", b"-ERR injected\r\n"),
    ("malformed", None, b"OK malformed reply\r\n"),
])
def test_replacing_reply_in_one_segment(link, tmp_path, action: str, line: str | None, expect: bytes) -> None:  # type: ignore[no-untyped-def]
    wire, got, _ = exchange(link, pop3(link, FaultRule("STAT", action, line=line)),  # type: ignore[arg-type]
                            LOGIN + [["send", b"STAT\r\n".hex()], ["until", expect.hex()]], tmp_path)
    assert wire.payloads[-1] == expect


def test_delay_holds_the_reply(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, _, _ = exchange(link, pop3(link, FaultRule("STAT", "delay", ms=300)),
                          LOGIN + [["send", b"STAT\r\n".hex()], ["until", STAT_OK.hex()]], tmp_path)
    stat = wire.conn.c2s.data_segments[-1]
    reply = wire.segments[-1]
    assert wire.payloads[-1] == STAT_OK and reply.time - stat.time >= 0.29


def test_overlong_line_bytes(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, _ = exchange(link, pop3(link, FaultRule("STAT", "overlong", size=4096)),
                            LOGIN + [["send", b"STAT\r\n".hex()], ["for", 0.5]], tmp_path)
    line = got[got.index(b"octets)\r\n") + 9:]
    assert len(line) == 4096 and line == STAT_OK[:-2] + b"X" * (4096 - len(STAT_OK)) + b"\r\n"
    assert b"".join(wire.after(got[:-4096])) == line


def test_no_crlf_and_nothing_after(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, end = exchange(link, pop3(link, FaultRule("STAT", "no_crlf")),
                              LOGIN + [["send", b"STAT\r\n".hex()], ["for", 0.5]], tmp_path)
    assert end == "open" and got.endswith(b"octets)\r\n" + STAT_OK[:-2])
    assert wire.payloads[-1] == STAT_OK[:-2]


def test_no_terminator_pop3_and_smtp(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, end = exchange(link, pop3(link, FaultRule("RETR", "no_terminator")),
                              LOGIN + [["send", b"RETR 1\r\n".hex()], ["for", 0.5]], tmp_path)
    reply = f"+OK {len(M1)} octets\r\n".encode() + M1
    assert end == "open" and wire.payloads[-1] == reply and got.endswith(reply)
    wire, got, end = exchange(link, smtp(link, FaultRule("EHLO", "no_terminator")),
                              [["until", b"\r\n".hex()], ["send", b"EHLO a\r\n".hex()], ["for", 0.5]], tmp_path)
    assert end == "open" and wire.payloads[-1] == EHLO.replace(b"250 HELP", b"250-HELP")


def test_stall_sends_nothing_and_waits_for_the_client(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, end = exchange(link, pop3(link, FaultRule("STAT", "stall")),
                              LOGIN + [["send", b"STAT\r\n".hex()], ["for", 0.6], ["close"]], tmp_path)
    assert end == "open" and got.endswith(b"octets)\r\n")
    stat = wire.conn.c2s.data_segments[-1]
    assert all(s.time < stat.time for s in wire.segments)  # nothing after STAT
    fin_c, fin_s = wire.conn.c2s.first_packet("F"), wire.conn.s2c.first_packet("F")
    assert fin_c is not None and (fin_s is None or fin_s.time > fin_c.time) and not wire.conn.s2c.rst


@pytest.mark.parametrize("action", ["close", "reset"])
def test_close_and_reset_mid_reply(link, tmp_path, action: str) -> None:  # type: ignore[no-untyped-def]
    wire, got, end = exchange(link, pop3(link, FaultRule("RETR", action, size=10)),
                              LOGIN + [["send", b"RETR 1\r\n".hex()], ["for", 2]], tmp_path)
    part = (f"+OK {len(M1)} octets\r\n".encode() + M1)[:10]
    assert wire.payloads[-1] == part
    if action == "close":
        assert end == "eof" and wire.conn.s2c.fin and not wire.conn.s2c.rst
        assert wire.conn.closed_by == "server"
    else:
        assert end == "reset" and wire.conn.s2c.rst and not wire.conn.s2c.fin


def test_a_peer_across_the_link_is_not_asked_for(link) -> None:  # type: ignore[no-untyped-def]
    """Across a real link only the sender's kernel is waited for: sock_diag finds no peer here."""
    with socket.create_server((link.host_ip, 0)) as lst:
        port = lst.getsockname()[1]
        proc = subprocess.Popen(["ip", "netns", "exec", link.ns, sys.executable, str(CLIENT), link.host_ip,
                                 str(port), '[["for", 1]]'], stdout=subprocess.DEVNULL)
        conn, _ = lst.accept()
        with conn:
            peer = PeerQueue(conn)
            assert peer.state() is None and not peer.local
            peer.close()
        proc.wait(5)


def test_refuse_closes_before_any_byte(link, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wire, got, end = exchange(link, smtp(link, FaultRule("connect", "refuse")), [["for", 2]], tmp_path)
    assert got == b"" and end == "eof" and wire.segments == [] and wire.conn.s2c.fin
