"""What the wire is held to (``WireLimits``) and the segment-sizing helpers the wire checks share."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capture.tcpflow import Connection, Segment
from bench.checks.artefacts import artefact_verdict, over_mtu
from bench.checks.packets import packet_evidence
from bench.checks.verdict import Evidence, Measurement, Verdict, judge


@dataclass(frozen=True)
class WireLimits:
    """What the wire is held to: the device's declared figures plus protocol maxima."""

    mtu: int
    mss: int
    mss6: int
    pop3_payload: int
    smtp_payload: int
    pop3_ports: frozenset[int] = frozenset({110})
    smtp_ports: frozenset[int] = frozenset({25})
    #: client retransmissions tolerated per connection on a clean link
    max_retransmissions: int = 2
    pop3_command_max: int = 255  # RFC 2449: command line incl. CRLF
    smtp_command_max: int = 512  # RFC 5321 4.5.3.1.4, incl. CRLF
    smtp_text_line_max: int = 1000  # RFC 5321 4.5.3.1.6, incl. CRLF
    default_mss4: int = 536  # assumed when the peer's SYN carries no MSS (RFC 9293)
    default_mss6: int = 1220
    #: device addresses; empty = every connection in the capture is the device's
    device_ips: frozenset[str] = frozenset()
    #: the interface the capture was taken on, when known (named in the offload hint)
    capture_iface: str = ""

    @classmethod
    def from_device(cls, limits: Any, *, pop3_ports: Iterable[int], smtp_ports: Iterable[int],
                    device_ips: Iterable[str] = (), **overrides: Any) -> WireLimits:
        """From an object (or mapping) with mtu, mss, mss6, pop3_payload, smtp_payload."""
        get = limits.__getitem__ if isinstance(limits, Mapping) else lambda k: getattr(limits, k)
        return cls(*(int(get(k)) for k in ("mtu", "mss", "mss6", "pop3_payload", "smtp_payload")),
                   pop3_ports=frozenset(pop3_ports), smtp_ports=frozenset(smtp_ports),
                   device_ips=frozenset(ip for ip in device_ips if ip), **overrides)

    def is_pop3(self, conn: Connection) -> bool:
        return conn.server[1] in self.pop3_ports

    def is_smtp(self, conn: Connection) -> bool:
        return conn.server[1] in self.smtp_ports

    def is_device(self, conn: Connection) -> bool:
        return not self.device_ips or conn.client[0] in self.device_ips


Connections = Connection | Iterable[Connection]
Check = Callable[[Connection, WireLimits, Path | None], Verdict]


def peer_mss(conn: Connection, limits: WireLimits) -> tuple[int, str]:
    """MSS the server advertised (or the RFC default if its SYN had none)."""
    if conn.s2c.syn_mss is not None:
        return conn.s2c.syn_mss, "advertised by the server"
    default = limits.default_mss6 if conn.ip_version == 6 else limits.default_mss4
    return default, "default: the server's SYN carried no MSS"


def client_data(conn: Connection) -> list[Segment]:
    return [s for s in conn.c2s.segments if s.payload_len]


def largest(segs: list[Segment]) -> int:
    return max((s.payload_len for s in segs), default=0)


def each(check: Check, conns: Connections, limits: WireLimits, artifact: Path | None,
         applies: Callable[[Connection], bool]) -> list[Verdict]:
    if isinstance(conns, Connection):
        conns = [conns]
    return [check(c, limits, artifact) for c in conns if limits.is_device(c) and applies(c)]


def payload_verdict(criterion: str, conn: Connection, limits: WireLimits, limit: int, why: str,
                    artifact: Path | None, extra: list[Evidence] | None = None) -> Verdict:
    data = client_data(conn)
    measurements = (Measurement("largest client segment payload", largest(data), limit, "<=", "octets"),)
    fake = over_mtu(conn, limits.mtu)
    if fake:  # what the capture shows is not what the wire carried
        return artefact_verdict(criterion, conn, fake, limits.mtu, artifact, measurements, limits.capture_iface)
    big = [s for s in data if s.payload_len > limit]
    failures = list(extra or [])
    if big:
        failures.insert(0, packet_evidence(
            [s.index for s in big],
            f"{len(big)} client segment(s) above {limit} octets ({why}); largest {largest(big)}", artifact))
    return judge(criterion, failures,
                 ok=f"{len(data)} client segments, largest {largest(data)} <= {limit} octets",
                 bad=f"client segment payload above {limit} octets" if big else "client stream broken",
                 measurements=measurements, subject=conn.subject)
