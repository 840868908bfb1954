"""Reading TCP connections from a capture: reassembly of each direction, retransmissions, gaps, who closed.

``read_connections(pcap)`` is the entry point. Reassembly works on sequence
numbers: retransmitted, reordered and overlapping segments give each stream
byte once (the first copy captured wins), retransmitted segments are marked so
checks do not count them, and holes are kept as ``gaps``. The data it builds is
in ``bench.capture.connection`` and ``bench.capture.streamlines`` (importable from here too).
"""
from __future__ import annotations

import bisect
import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

from bench.capture.connection import (
    SEQ_HALF,
    SEQ_SPACE,
    Close,
    Connection,
    Direction,
    Endpoint,
    Gap,
    Segment,
    fmt_endpoint,
)
from bench.capture.pcap import ACK, FLAG_STR, SYN, iter_frames, tcp_fields
from bench.capture.streamlines import StreamLine, line_around, line_at, lines

__all__ = ["Close", "Connection", "Direction", "Endpoint", "Gap", "Segment", "StreamLine", "fmt_endpoint",
           "gc_paused", "line_around", "line_at", "lines", "read_connections"]


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
        base = (half.syn_seq + 1) % SEQ_SPACE
    else:
        base = segs[0].seq
        for s in segs:  # earliest sequence number seen (a reordered capture)
            if s.payload_len and (s.seq - base) % SEQ_SPACE >= SEQ_HALF:
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
        rel = (s.seq - base) % SEQ_SPACE
        if rel >= SEQ_HALF:
            rel -= SEQ_SPACE
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
