"""A TCP connection as data: its segments, each direction's reassembled stream, and how each side closed."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

Endpoint = tuple[str, int]

SEQ_SPACE = 1 << 32  # sequence numbers wrap here
SEQ_HALF = 1 << 31  # a difference of this or more is read as negative (RFC 1982 serial arithmetic)


@dataclass(slots=True)
class Segment:
    """One TCP segment as captured."""

    index: int  # 1-based frame number
    time: float
    src: Endpoint
    dst: Endpoint
    seq: int
    ack: int
    flags: str  # "S", "SA", "PA", "FA", "R", ...
    payload_len: int
    ip_version: int
    ip_header_len: int
    mss: int | None  # MSS option if present
    retransmission: bool = False  # set by reassembly
    window: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """Stream bytes never captured: ``length`` bytes missing before stream ``offset``."""

    offset: int  # stream offset where the missing bytes would have gone
    length: int
    packet: int  # frame carrying the first byte after the hole


@dataclass
class Direction:
    """One half of a connection: its segments and the payload they carried."""

    segments: list[Segment] = field(default_factory=list)
    stream: bytes = b""  # reassembled payload, in order, no duplicates
    syn_mss: int | None = None
    fin: bool = False
    rst: bool = False
    gaps: list[Gap] = field(default_factory=list)
    #: sequence number of stream offset 0 (None: this side sent nothing)
    base: int | None = None
    #: stream offset where each contributed chunk starts, and the frame that carried it
    chunk_offsets: list[int] = field(default_factory=list, repr=False)
    chunk_packets: list[int] = field(default_factory=list, repr=False)
    chunk_times: list[float] = field(default_factory=list, repr=False)
    _times: dict[int, float] | None = field(default=None, repr=False)

    def packet_at(self, offset: int) -> int:
        """Frame number that carried stream byte ``offset``."""
        if not 0 <= offset < len(self.stream):
            raise IndexError(f"stream offset {offset} outside 0..{len(self.stream) - 1}")
        return self.chunk_packets[bisect.bisect_right(self.chunk_offsets, offset) - 1]

    def packets_between(self, start: int, end: int) -> tuple[int, ...]:
        """Frames that carried stream bytes ``start`` up to (not including) ``end``."""
        if end <= start:
            return ()
        i = bisect.bisect_right(self.chunk_offsets, start) - 1
        j = bisect.bisect_right(self.chunk_offsets, end - 1)
        return tuple(sorted(set(self.chunk_packets[max(i, 0):j])))

    def chunks_between(self, start: int, end: int) -> list[tuple[int, int]]:
        """(frame, octets of ``start:end`` it carried) for every frame that carried some, in stream order."""
        if end <= start or not self.chunk_offsets:
            return []
        offs = self.chunk_offsets
        i = max(bisect.bisect_right(offs, start) - 1, 0)
        out: list[tuple[int, int]] = []
        while i < len(offs) and offs[i] < end:
            stop = offs[i + 1] if i + 1 < len(offs) else len(self.stream)
            n = min(stop, end) - max(offs[i], start)
            if n > 0:
                out.append((self.chunk_packets[i], n))
            i += 1
        return out

    def time_of(self, packet: int) -> float:
        """Capture time of one of this direction's frames."""
        if self._times is None:
            self._times = {s.index: s.time for s in self.segments}
        return self._times[packet]

    @property
    def retransmissions(self) -> list[Segment]:
        return [s for s in self.segments if s.retransmission]

    @property
    def data_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.payload_len]

    def first_packet(self, flag: str) -> Segment | None:
        """First segment carrying TCP flag letter ``flag`` (e.g. "F", "R", "S")."""
        return next((s for s in self.segments if flag in s.flags), None)


@dataclass(frozen=True, slots=True)
class Close:
    """One side's first FIN or RST, and how much of the peer's stream it had acknowledged by then."""

    side: str  # "client" or "server"
    kind: str  # "FIN" or "RST"
    segment: Segment
    #: octets of the peer's stream this side had acknowledged up to and including this
    #: segment (a FIN the peer sent counts one more); None when it sent no ACK at all
    acked: int | None

    @property
    def packet(self) -> int:
        return self.segment.index

    def covers(self, offset: int) -> bool:
        """True if every peer octet before stream ``offset`` had been acknowledged."""
        return self.acked is not None and self.acked >= offset

    def describe(self) -> str:
        return f"{self.side} {self.kind} at packet {self.packet}"


@dataclass
class Connection:
    client: Endpoint
    server: Endpoint
    ip_version: int
    c2s: Direction
    s2c: Direction
    closed_by: str | None  # "client", "server", "reset", None (still open)
    start: float
    end: float
    #: derived facts (e.g. parsed dialogues) computed once per connection
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def subject(self) -> str:
        """``connection 10.0.2.15:49153 -> 10.0.2.2:2525`` (IPv6 in brackets)."""
        return f"connection {fmt_endpoint(self.client)} -> {fmt_endpoint(self.server)}"

    @property
    def syn_seen(self) -> bool:
        return any(s.flags == "S" for s in self.c2s.segments)

    def close_of(self, side: str) -> Close | None:
        """``side``'s ("client"/"server") first FIN or RST, whichever came first."""
        mine, peer = (self.c2s, self.s2c) if side == "client" else (self.s2c, self.c2s)
        acked: int | None = None
        for seg in mine.segments:
            if "A" in seg.flags and peer.base is not None:
                rel = (seg.ack - peer.base) % SEQ_SPACE
                if rel < SEQ_HALF:
                    acked = rel if acked is None else max(acked, rel)
            if "F" in seg.flags or "R" in seg.flags:
                return Close(side, "RST" if "R" in seg.flags else "FIN", seg, acked)
        return None

    @property
    def first_close(self) -> Close | None:
        """The first FIN or RST of the connection, from either side (frame order)."""
        closes = [c for c in (self.close_of("client"), self.close_of("server")) if c is not None]
        return min(closes, key=lambda c: c.packet) if closes else None


def fmt_endpoint(ep: Endpoint) -> str:
    host, port = ep
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
