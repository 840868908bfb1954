"""Captured frames that were never on the wire: a frame larger than the link MTU.

With segmentation or receive offload on the capture interface (GRO/LRO where it
receives, TSO/GSO where it sends) the kernel hands the capture super-frames of
tens of kilobytes: merged before they are cut for the wire, or after the NIC
received them. Sizes read from such a capture say nothing about the device, so
the size verdicts (NET-WIRE-1, POP-WIRE-2, SMTP-MAIL-3) are INCONCLUSIVE, name
the offloads and say how to turn them off. A frame within the MTU is judged as
usual: an oversize segment that fits the link is a real defect.
"""
from __future__ import annotations

from pathlib import Path

from bench.capture.tcpflow import Connection, Segment
from bench.checks.packets import packet_evidence
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict

TCP_HEADER_MIN = 20
OFFLOADS_OFF = "gro off gso off tso off"


def over_mtu(conn: Connection, mtu: int) -> list[Segment]:
    """Client segments whose IP packet (header, at least a bare TCP header, payload) exceeds ``mtu``."""
    return [s for s in conn.c2s.segments if s.ip_header_len + TCP_HEADER_MIN + s.payload_len > mtu]


def artefact_evidence(segs: list[Segment], mtu: int, artifact: Path | None, iface: str = "") -> Evidence:
    largest = max(s.ip_header_len + TCP_HEADER_MIN + s.payload_len for s in segs)
    return packet_evidence(
        [s.index for s in segs],
        f"{len(segs)} captured client frame(s) above the link MTU {mtu} (IP packets of up to at least {largest} "
        "octets): merged by segmentation/receive offload (GRO/LRO on the capturing side, TSO/GSO on the sending "
        f"side), never on the wire like this; turn them off with `ethtool -K {iface or 'IFACE'} {OFFLOADS_OFF}`",
        artifact)


def artefact_verdict(criterion: str, conn: Connection, segs: list[Segment], mtu: int, artifact: Path | None,
                     measurements: tuple[Measurement, ...] = (), iface: str = "") -> Verdict:
    return Verdict(criterion, Outcome.INCONCLUSIVE,
                   f"segment sizes cannot be judged: the capture holds frames above the MTU {mtu} "
                   "(an offload artefact: GRO/TSO/GSO on the capture interface)",
                   (artefact_evidence(segs, mtu, artifact, iface),), measurements, conn.subject)
