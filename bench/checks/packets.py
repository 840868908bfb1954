"""Evidence that points at frames of the capture (shared by the wire-level checks)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.checks.verdict import Evidence

MAX_PACKETS_CITED = 50


def packet_evidence(packets: Iterable[int], excerpt: str, artifact: Path | None) -> Evidence:
    pk = tuple(sorted(set(packets)))[:MAX_PACKETS_CITED]
    shown = ", ".join(str(p) for p in pk[:8]) + (", ..." if len(pk) > 8 else "")
    return Evidence("pcap", f"packet{'s' if len(pk) > 1 else ''} {shown}", excerpt, artifact, pk)


def show(text: bytes, n: int = 60) -> str:
    """Bytes as a short printable excerpt."""
    s = repr(text[:n])[2:-1]
    return s + ("..." if len(text) > n else "")
