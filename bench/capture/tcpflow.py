"""TCP connections from a capture: segments, reassembled streams, who closed.

``read_connections(pcap)`` is the entry point. Reassembly works on sequence
numbers: retransmitted, reordered and overlapping segments give each stream
byte once (the first copy captured wins), retransmitted segments are marked so
checks do not count them, and holes are kept as ``gaps``.
"""
from __future__ import annotations

import bisect
import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.capture.pcap import ACK, FLAG_STR, SYN, iter_frames, tcp_fields

Endpoint = tuple[str, int]

_MOD = 1 << 32
_HALF = 1 << 31


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
                rel = (seg.ack - peer.base) % _MOD
                if rel < _HALF:
                    acked = rel if acked is None else max(acked, rel)
            if "F" in seg.flags or "R" in seg.flags:
                return Close(side, "RST" if "R" in seg.flags else "FIN", seg, acked)
        return None

    @property
    def first_close(self) -> Close | None:
        """The first FIN or RST of the connection, from either side (frame order)."""
        closes = [c for c in (self.close_of("client"), self.close_of("server")) if c is not None]
        return min(closes, key=lambda c: c.packet) if closes else None


@dataclass(slots=True)
class StreamLine:
    """One line of a stream (terminator included) and where it travelled."""

    text: bytes
    offset: int  # stream offset of its first byte
    packets: tuple[int, ...]  # frames that carried it, ascending
    time: float  # capture time of the frame that completed it

    @property
    def end(self) -> int:
        return self.offset + len(self.text)

    @property
    def first_packet(self) -> int:
        return self.packets[0]

    @property
    def last_packet(self) -> int:
        return self.packets[-1]

    @property
    def terminated(self) -> bool:
        return self.text.endswith(b"\n")

    @property
    def crlf(self) -> bool:
        return self.text.endswith(b"\r\n")

    @property
    def body(self) -> bytes:
        """The line without its line ending."""
        return self.text.rstrip(b"\r\n")


def fmt_endpoint(ep: Endpoint) -> str:
    host, port = ep
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lines(direction: Direction, start: int = 0, end: int | None = None) -> list[StreamLine]:
    """Cut ``direction.stream[start:end]`` into LF-terminated lines (the last may be unterminated)."""
    data = direction.stream
    stop = len(data) if end is None else min(end, len(data))
    if start >= stop:
        return []
    parts = data[start:stop].split(b"\n")
    last_part = parts.pop()
    offs, pks, tms = direction.chunk_offsets, direction.chunk_packets, direction.chunk_times
    n = len(offs)
    ci = bisect.bisect_right(offs, start) - 1
    out: list[StreamLine] = []
    pos = start
    for part in parts:
        e = pos + len(part) + 1
        cj = ci
        while cj + 1 < n and offs[cj + 1] < e:
            cj += 1
        packets = (pks[ci],) if ci == cj else tuple(sorted(set(pks[ci:cj + 1])))
        out.append(StreamLine(part + b"\n", pos, packets, tms[cj]))
        pos = e
        while ci + 1 < n and offs[ci + 1] <= pos:
            ci += 1
    if last_part:
        out.append(line_at(direction, pos, stop))
    return out


def line_at(direction: Direction, start: int, end: int) -> StreamLine:
    """The stream bytes ``start:end`` as a StreamLine."""
    packets = direction.packets_between(start, end)
    last = bisect.bisect_right(direction.chunk_offsets, end - 1) - 1
    return StreamLine(direction.stream[start:end], start, packets, direction.chunk_times[last])


def line_around(direction: Direction, offset: int) -> StreamLine:
    """The whole line holding stream byte ``offset``."""
    data = direction.stream
    start = data.rfind(b"\n", 0, offset) + 1
    nl = data.find(b"\n", offset)
    return line_at(direction, start, len(data) if nl < 0 else nl + 1)


class _Half:
    """Raw material of one direction while the capture is read."""

    __slots__ = ("segments", "payloads", "syn_seq")

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.payloads: list[bytes] = []
        self.syn_seq: int | None = None


class _Builder:
    __slots__ = ("halves", "client", "syn_ack_to", "ip_version")

    def __init__(self, ip_version: int) -> None:
        self.halves: dict[Endpoint, _Half] = {}
        self.client: Endpoint | None = None  # sender of the first bare SYN
        self.syn_ack_to: Endpoint | None = None
        self.ip_version = ip_version


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many acyclic objects (2x faster on big captures)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_connections(pcap: Path) -> list[Connection]:
    """Every TCP connection in a pcap/pcapng capture, in order of first packet."""
    with gc_paused():
        return _read_connections(pcap)


def _read_connections(pcap: Path) -> list[Connection]:
    builders: dict[tuple[Endpoint, Endpoint], _Builder] = {}
    done: list[tuple[int, _Builder]] = []
    first_seen: dict[int, int] = {}
    for index, ftime, linktype, data, _ns in iter_frames(pcap):
        p = tcp_fields(linktype, data)
        if p is None:
            continue
        ver, ihl, sip, dip, sport, dport, seq, ack, flags, window, mss, payload = p
        src, dst = (sip, sport), (dip, dport)
        key = (src, dst) if src < dst else (dst, src)
        b = builders.get(key)
        if flags & SYN and b is not None and not flags & ACK:
            half = b.halves.get(src)
            if half is not None and half.syn_seq is not None and half.syn_seq != seq:
                done.append((first_seen.pop(id(b)), b))  # port reused: a new connection
                b = None
        if b is None:
            b = builders[key] = _Builder(ver)
            first_seen[id(b)] = index
        half = b.halves.get(src)
        if half is None:
            half = b.halves[src] = _Half()
        if flags & SYN:
            if flags & ACK:
                b.syn_ack_to = b.syn_ack_to or dst
            else:
                b.client = b.client or src
            if half.syn_seq is None:
                half.syn_seq = seq
        half.segments.append(Segment(index, ftime, src, dst, seq, ack, FLAG_STR[flags & 0xFF], len(payload),
                                     ver, ihl, mss, False, window))
        half.payloads.append(payload)
    done.extend((first_seen[id(b)], b) for b in builders.values())
    done.sort(key=lambda t: t[0])
    return [_finish(b) for _, b in done]


def _finish(b: _Builder) -> Connection:
    ends = list(b.halves)
    if b.client is not None:
        client = b.client
    elif b.syn_ack_to is not None:
        client = b.syn_ack_to
    elif len(ends) == 2:
        client = max(ends, key=lambda e: e[1])  # the ephemeral (higher) port
    else:
        client = ends[0]
    first = b.halves[ends[0]].segments[0]
    server = first.dst if first.src == client else first.src
    c2s = _direction(b.halves.get(client))
    s2c = _direction(b.halves.get(server))
    events: list[tuple[int, str]] = []
    for d, who in ((c2s, "client"), (s2c, "server")):
        f, r = d.first_packet("F"), d.first_packet("R")
        if f is not None:
            events.append((f.index, who))
        if r is not None:
            events.append((r.index, "reset"))
    closed_by = min(events)[1] if events else None
    segs = c2s.segments + s2c.segments
    return Connection(client, server, b.ip_version, c2s, s2c, closed_by,
                      min(s.time for s in segs), max(s.time for s in segs))


def _direction(half: _Half | None) -> Direction:
    """Reassemble one direction: mark retransmissions, build the stream, find holes."""
    d = Direction()
    if half is None:
        return d
    d.segments = segs = half.segments
    payloads = half.payloads
    if half.syn_seq is not None:
        base = (half.syn_seq + 1) % _MOD
    else:
        base = segs[0].seq
        for s in segs:  # earliest sequence number seen (a reordered capture)
            if s.payload_len and (s.seq - base) % _MOD >= _HALF:
                base = s.seq
    d.base = base
    pieces: list[tuple[int, int, bytes, float]] = []  # (offset, frame, payload, time)
    covered: list[list[int]] = []  # merged [start, end) intervals seen so far
    syn_seen = fin_at = None
    for s, payload in zip(segs, payloads):
        flags = s.flags
        if "S" in flags:
            if d.syn_mss is None:
                d.syn_mss = s.mss
            if syn_seen is not None and not s.payload_len:
                s.retransmission = True
            syn_seen = True
        if "R" in flags:
            d.rst = True
        n = s.payload_len
        rel = (s.seq - base) % _MOD
        if rel >= _HALF:
            rel -= _MOD
        if "S" in flags:
            rel += 1
        if n:
            a, e = rel, rel + n
            if a < 0:  # bytes before the start of the stream (e.g. SYN data)
                payload, a = payload[-a:], 0
                if e <= 0:
                    s.retransmission = True
                    continue
            if _overlaps_and_add(covered, a, e):
                s.retransmission = True
            pieces.append((a, s.index, payload, s.time))
        if "F" in flags:
            fin_end = rel + n
            if fin_at == fin_end and not n:
                s.retransmission = True
            fin_at = fin_end
            d.fin = True
    _assemble(d, pieces)
    return d


def _overlaps_and_add(covered: list[list[int]], a: int, e: int) -> bool:
    """Record [a, e) as seen; True if any of it had been seen before."""
    if not covered or a > covered[-1][1]:
        covered.append([a, e])
        return False
    last = covered[-1]
    if a == last[1]:
        last[1] = e
        return False
    starts = [iv[0] for iv in covered]
    i = bisect.bisect_right(starts, a) - 1
    overlap = False
    j = max(i, 0)
    while j < len(covered) and covered[j][0] < e:
        if covered[j][1] > a:
            overlap = True
        j += 1
    # merge [a, e) with every interval touching it
    lo = i if i >= 0 and covered[i][1] >= a else i + 1
    hi = j
    new_a = min(a, covered[lo][0]) if lo < hi else a
    new_e = max(e, covered[hi - 1][1]) if lo < hi else e
    covered[lo:hi] = [[new_a, new_e]]
    return overlap


def _assemble(d: Direction, pieces: list[tuple[int, int, bytes, float]]) -> None:
    if not pieces:
        return
    in_order = all(pieces[k][0] < pieces[k + 1][0] for k in range(len(pieces) - 1))
    if not in_order:
        pieces = sorted(pieces, key=lambda p: (p[0], p[1]))
    out: list[bytes] = []
    offs, pkts, times = d.chunk_offsets, d.chunk_packets, d.chunk_times
    seq_pos = pieces[0][0]  # sequence offset reached
    stream_len = 0
    if seq_pos > 0:
        d.gaps.append(Gap(0, seq_pos, pieces[0][1]))
    for a, frame, payload, t in pieces:
        e = a + len(payload)
        if e <= seq_pos:
            continue
        if a > seq_pos:
            d.gaps.append(Gap(stream_len, a - seq_pos, frame))
            seq_pos = a
        chunk = payload[seq_pos - a:]
        offs.append(stream_len)
        pkts.append(frame)
        times.append(t)
        out.append(chunk)
        stream_len += len(chunk)
        seq_pos = e
    d.stream = b"".join(out)
