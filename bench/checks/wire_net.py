"""NET-WIRE-1 and NET-WIRE-2 from the capture: segment and header sizes, and a clean close by FIN."""
from __future__ import annotations

from pathlib import Path

from bench.capture.tcpflow import Connection
from bench.checks.artefacts import artefact_evidence, artefact_verdict, over_mtu
from bench.checks.closing import error_path
from bench.checks.packets import packet_evidence
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, judge
from bench.checks.wire_limits import Connections, WireLimits, client_data, each, largest, peer_mss


def _net_wire_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    v6 = conn.ip_version == 6
    syn_limit = limits.mtu - (60 if v6 else 40)
    hdr = 40 if v6 else 20
    failures: list[Evidence] = []
    syns = [s for s in conn.c2s.segments if s.flags == "S"]
    no_mss = [s.index for s in syns if s.mss is None]
    if no_mss:
        failures.append(packet_evidence(no_mss, "SYN carries no MSS option", artifact))
    big_syn = [s for s in syns if s.mss is not None and s.mss > syn_limit]
    if big_syn:  # a retransmitted SYN repeats the same fault: one evidence for all copies
        failures.append(packet_evidence(
            [s.index for s in big_syn],
            f"SYN MSS {big_syn[0].mss} > MTU {limits.mtu} - {60 if v6 else 40} = {syn_limit}", artifact))
    peer, why = peer_mss(conn, limits)
    data = client_data(conn)
    fake = over_mtu(conn, limits.mtu)  # never on the wire: an offload artefact, not an MSS violation
    big = [s for s in data if s.payload_len > peer and s not in fake]
    if big:
        failures.append(packet_evidence(
            [s.index for s in big],
            f"{len(big)} segment(s) above the peer's MSS {peer} ({why}); largest {largest(big)}", artifact))
    bad_hdr = [s for s in conn.c2s.segments if s.ip_header_len != hdr]
    if bad_hdr:
        failures.append(packet_evidence(
            [s.index for s in bad_hdr],
            f"{len(bad_hdr)} packet(s) with an IPv{conn.ip_version} header of "
            f"{bad_hdr[0].ip_header_len} octets, not {hdr}", artifact))
    syn_mss = syns[0].mss if syns else None
    measurements = (
        Measurement("SYN MSS", syn_mss, syn_limit, "<=", "octets"),
        Measurement("largest client segment payload", largest(data), peer, "<=", "octets"),
        Measurement("IP header length", max((s.ip_header_len for s in conn.c2s.segments), default=hdr),
                    hdr, "==", "octets"),
    )
    if fake and not failures:
        return artefact_verdict("NET-WIRE-1", conn, fake, limits.mtu, artifact, measurements, limits.capture_iface)
    if fake:
        failures.append(artefact_evidence(fake, limits.mtu, artifact, limits.capture_iface))
    if not failures and not syns:
        return Verdict("NET-WIRE-1", Outcome.INCONCLUSIVE,
                       "the device's SYN is not in the capture", (), measurements, conn.subject)
    support = (packet_evidence([syns[0].index], f"SYN MSS {syn_mss}", artifact),) if syns else ()
    return judge("NET-WIRE-1", failures,
                 ok=f"SYN MSS {syn_mss} <= {syn_limit}; segments <= MSS {peer}; {hdr}-octet IP headers",
                 bad="segment sizing or IP headers break the limits", measurements=measurements,
                 support=support, subject=conn.subject)


def net_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """SYN MSS <= MTU-40/-60; no client segment above the peer's MSS; plain 20/40-octet IP headers."""
    return each(_net_wire_1, conns, limits, artifact, lambda c: True)


# ---------------------------------------------------------------- NET-WIRE-2

def _protocol(conn: Connection, limits: WireLimits) -> str | None:
    return "smtp" if limits.is_smtp(conn) else "pop3" if limits.is_pop3(conn) else None


def _net_wire_2(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    failures: list[Evidence] = []
    rsts = [s for s in conn.c2s.segments if "R" in s.flags]
    fin = conn.c2s.first_packet("F")
    off_path = error_path(conn, _protocol(conn, limits))  # the close there is SMTP-CONN-1's, POP-TRANS-4's
    if rsts and not off_path:
        failures.append(packet_evidence([s.index for s in rsts], "the device sent RST", artifact))
    if fin is None and not off_path:
        last = conn.c2s.segments[-1].index if conn.c2s.segments else None
        srst = conn.s2c.first_packet("R")
        why = ("reset by the server; the device sent no FIN" if srst is not None
               else "the device never sent FIN (connection left open)")
        cited = [p for p in (last, srst.index if srst else None) if p]
        failures.append(packet_evidence(cited, why, artifact))
    retrans = conn.c2s.retransmissions
    if len(retrans) > limits.max_retransmissions:
        failures.append(packet_evidence([s.index for s in retrans],
                                        f"{len(retrans)} retransmitted segments", artifact))
    measurements = (
        Measurement("device RST segments", len(rsts), 0, "<=", "segments"),
        Measurement("device retransmissions", len(retrans), limits.max_retransmissions, "<=", "segments"),
    )
    support = (packet_evidence([fin.index], f"device FIN (closed by {conn.closed_by})", artifact),) if fin else ()
    ok = f"closed by FIN, no device RST, {len(retrans)} retransmission(s)"
    if off_path:
        ok = (f"error path ({off_path}): the close is judged by the protocol's closing rule, not here; "
              f"{len(retrans)} retransmission(s)")
        support += tuple(packet_evidence([s.index], "device RST on the error path", artifact) for s in rsts[:1])
    return judge("NET-WIRE-2", failures,
                 ok=ok,
                 bad="connection not closed cleanly by FIN or retransmission storm",
                 measurements=measurements, support=support, subject=conn.subject)


def net_wire_2(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """Closed by FIN, no RST from the device, retransmissions within ``max_retransmissions``."""
    return each(_net_wire_2, conns, limits, artifact, lambda c: True)
