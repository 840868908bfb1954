"""Synthetic captures built with scapy, every packet placed by hand.

For tests and benchmarks: a ``Trace`` collects Ethernet frames (1 ms apart),
``Conversation`` tracks sequence numbers for one TCP connection so a test can
send lines, split them into chosen segments, retransmit, reorder, close.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from bench.capture.pcap import write_pcap

Side = Literal["c", "s"]
CLIENT_MAC, SERVER_MAC = "52:54:00:12:34:56", "52:55:0a:00:02:02"


@dataclass
class Trace:
    """Frames in capture order; ``add`` returns the 1-based frame number."""

    start: float = 1_700_000_000.0
    step: float = 0.001
    frames: list[tuple[float, bytes]] = field(default_factory=list)

    def add(self, frame: bytes) -> int:
        self.frames.append((self.start + len(self.frames) * self.step, frame))
        return len(self.frames)

    def write(self, path: Path) -> Path:
        """Write an Ethernet pcap with nanosecond timestamps."""
        return write_pcap(Path(path), self.frames)


class Conversation:
    """One TCP connection between a client (the device) and a server."""

    def __init__(self, trace: Trace, client: tuple[str, int] = ("10.0.2.15", 49153),
                 server: tuple[str, int] = ("10.0.2.2", 25), *, client_isn: int = 1000,
                 server_isn: int = 500_000, ip_options: bytes = b"") -> None:
        self.trace = trace
        self.ends = {"c": client, "s": server}
        self.isn = {"c": client_isn, "s": server_isn}
        self.next = {"c": 0, "s": 0}  # next relative sequence offset to send
        self.fin_sent = {"c": False, "s": False}
        self.ipv6 = ":" in client[0]
        self.ip_options = ip_options

    def _seq(self, side: Side, offset: int) -> int:
        return (self.isn[side] + 1 + offset) % (1 << 32)

    def _ack(self, side: Side) -> int:
        other: Side = "s" if side == "c" else "c"
        return self._seq(other, self.next[other] + (1 if self.fin_sent[other] else 0))

    def packet(self, side: Side, payload: bytes = b"", *, flags: str = "PA",
               offset: int | None = None, mss: int | None = None, advance: bool = True) -> int:
        """Put one segment on the wire; ``offset`` (relative) defaults to the next byte."""
        other: Side = "s" if side == "c" else "c"
        (sip, sport), (dip, dport) = self.ends[side], self.ends[other]
        off = self.next[side] if offset is None else offset
        if "S" in flags:
            seq = self.isn[side]
        elif "F" in flags and offset is None and self.fin_sent[side]:
            seq = self._seq(side, off)  # FIN retransmission
        else:
            seq = self._seq(side, off)
        ack = self._ack(side) if "A" in flags else 0
        opts = [("MSS", mss)] if mss is not None else []
        tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=5840, options=opts)
        if self.ipv6:
            ip = IPv6(src=sip, dst=dip)
        elif self.ip_options:
            ip = IP(src=sip, dst=dip, options=self.ip_options)
        else:
            ip = IP(src=sip, dst=dip)
        src_mac, dst_mac = (CLIENT_MAC, SERVER_MAC) if side == "c" else (SERVER_MAC, CLIENT_MAC)
        pkt = Ether(src=src_mac, dst=dst_mac) / ip / tcp
        if payload:
            pkt = pkt / Raw(payload)
        index = self.trace.add(bytes(pkt))
        if advance and offset is None:
            self.next[side] += len(payload)
        elif advance and offset is not None:
            self.next[side] = max(self.next[side], offset + len(payload))
        if "F" in flags:
            self.fin_sent[side] = True
        return index

    def handshake(self, client_mss: int | None = -1, server_mss: int | None = -1) -> list[int]:
        """SYN, SYN-ACK, ACK; MSS -1 means the usual 1460 (IPv4) / 1440 (IPv6), None no option."""
        auto = 1440 if self.ipv6 else 1460
        client_mss = auto if client_mss == -1 else client_mss
        server_mss = auto if server_mss == -1 else server_mss
        return [self.packet("c", flags="S", mss=client_mss),
                self.packet("s", flags="SA", mss=server_mss),
                self.packet("c", flags="A")]

    def send(self, side: Side, data: bytes, *, seg: int = 1460, ack: bool = True) -> list[int]:
        """Send ``data`` in segments of at most ``seg`` bytes; the peer ACKs at the end."""
        frames = [self.packet(side, data[i:i + seg]) for i in range(0, len(data), seg)]
        if ack:
            self.packet("s" if side == "c" else "c", flags="A")
        return frames

    def close(self, first: Side = "c") -> list[int]:
        second: Side = "s" if first == "c" else "c"
        return [self.packet(first, flags="FA"), self.packet(second, flags="FA"),
                self.packet(first, flags="A")]

    def reset(self, side: Side) -> int:
        return self.packet(side, flags="RA")


def smtp_session(trace: Trace, client: tuple[str, int], server: tuple[str, int], *,
                 body: bytes = b"Subject: hi\r\n\r\nhello\r\n", seg: int = 536,
                 isn: int = 1000) -> Conversation:
    """A clean SMTP session: EHLO, MAIL, one RCPT, DATA, QUIT, client FIN."""
    c = Conversation(trace, client, server, client_isn=isn, server_isn=isn * 7 + 12345)
    c.handshake()
    c.send("s", b"220 mail.test ESMTP\r\n")
    for cmd, reply in ((b"EHLO dev\r\n", b"250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
                       (b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n"),
                       (b"RCPT TO:<b@test>\r\n", b"250 ok\r\n"),
                       (b"DATA\r\n", b"354 go\r\n")):
        c.send("c", cmd)
        c.send("s", reply)
    c.send("c", body + b".\r\n", seg=seg)
    c.send("s", b"250 queued\r\n")
    c.send("c", b"QUIT\r\n")
    c.send("s", b"221 bye\r\n", ack=False)
    c.close("c")
    return c


def pop3_session(trace: Trace, client: tuple[str, int], server: tuple[str, int], *,
                 message: bytes = b"Subject: x\r\n\r\nbody\r\n", isn: int = 2000) -> Conversation:
    """A clean POP3 session: USER, PASS, STAT, RETR 1, QUIT, client FIN."""
    c = Conversation(trace, client, server, client_isn=isn, server_isn=isn * 5 + 777)
    c.handshake()
    c.send("s", b"+OK POP3 ready <1.2@test>\r\n")
    for cmd, reply in ((b"USER mrose\r\n", b"+OK\r\n"), (b"PASS tanstaaf\r\n", b"+OK maildrop\r\n"),
                       (b"STAT\r\n", b"+OK 1 %d\r\n" % len(message)),
                       (b"RETR 1\r\n", b"+OK\r\n" + message + b".\r\n"),
                       (b"QUIT\r\n", b"+OK bye\r\n")):
        c.send("c", cmd)
        c.send("s", reply)
    c.close("c")
    return c
