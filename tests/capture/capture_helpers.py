"""Helpers for capture tests: a capture written by scapy, read back, judged."""
from __future__ import annotations

from pathlib import Path

from bench.capture.synth import Conversation, Trace
from bench.capture.tcpflow import Connection, read_connections
from bench.checks.verdict import Verdict
from bench.checks.wire import WireLimits, check_wire

LIMITS = WireLimits(mtu=1500, mss=1460, mss6=1440, pop3_payload=120, smtp_payload=1024,
                    pop3_ports=frozenset({110}), smtp_ports=frozenset({25}))
DEV, SRV = "10.0.2.15", "10.0.2.2"


class Judged:
    """A trace written to disk, its connections and their wire verdicts."""

    def __init__(self, trace: Trace, path: Path, limits: WireLimits = LIMITS) -> None:
        self.path = trace.write(path)
        self.connections: list[Connection] = read_connections(self.path)
        self.verdicts: list[Verdict] = check_wire(self.connections, limits, self.path)

    def one(self, criterion: str) -> Verdict:
        found = [v for v in self.verdicts if v.criterion == criterion]
        assert len(found) == 1, f"{criterion}: {len(found)} verdicts"
        return found[0]

    def outcomes(self) -> dict[str, str]:
        return {v.criterion: v.outcome.value for v in self.verdicts}

    def failed_packets(self, criterion: str) -> list[tuple[int, ...]]:
        return [e.packets for e in self.one(criterion).evidence]


def exchange(c: Conversation, cmd: bytes, reply: bytes) -> tuple[list[int], list[int]]:
    """Client command, server ACK, server reply, client ACK; returns (command frames, reply frames)."""
    return c.send("c", cmd), c.send("s", reply)


def smtp_open(trace: Trace, port: int = 49153, ehlo_reply: bytes = b"250-mail.test\r\n250 AUTH PLAIN\r\n",
              server_mss: int | None = -1, **kw) -> Conversation:
    c = Conversation(trace, (DEV, port), (SRV, 25), **kw)
    c.handshake(server_mss=server_mss)
    c.send("s", b"220 mail.test ESMTP\r\n")
    exchange(c, b"EHLO dev\r\n", ehlo_reply)
    return c


def smtp_to_data(c: Conversation, rcpts: tuple[bytes, ...] = (b"b@test",)) -> list[list[int]]:
    """MAIL, one RCPT per recipient, DATA, each answered; returns each RCPT's command frames."""
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n")
    frames = [exchange(c, b"RCPT TO:<" + r + b">\r\n", b"250 ok\r\n")[0] for r in rcpts]
    exchange(c, b"DATA\r\n", b"354 go ahead\r\n")
    return frames


def smtp_mail(c: Conversation, body: bytes = b"Subject: t\r\n\r\nhello\r\n", seg: int = 1024,
              rcpts: tuple[bytes, ...] = (b"b@test",)) -> None:
    smtp_to_data(c, rcpts)
    c.send("c", body + b".\r\n", seg=seg)
    c.send("s", b"250 queued\r\n")


def smtp_quit(c: Conversation) -> None:
    exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    c.close("c")


def pop3_open(trace: Trace, port: int = 49200, **kw) -> Conversation:
    c = Conversation(trace, (DEV, port), (SRV, 110), **kw)
    c.handshake()
    c.send("s", b"+OK POP3 ready\r\n")
    return c
