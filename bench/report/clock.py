"""Put a capture's packets on the host clock when the capture keeps its own.

UART logs and transcripts are stamped with ``time.time()``. A capture taken on
the host's tap is too, but one written by QEMU's user-mode network dump is
stamped on the emulator's clock, seconds away and drifting. Each connection is
matched to the server session whose first reply arrives closest to where the
running offset predicts, and shifted so its first server data segment lines up
with that reply in the transcript. The report says when it did this.

``causal_order`` then removes what offset remains: no packet is shown before
the transcript line that wrote its first octet.
"""
from __future__ import annotations

import bisect
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench.capture.tcpflow import Connection
from bench.report.artifacts import PacketRow, TranscriptEntry

THRESHOLD = 0.002  # seconds: offsets below this are taken as the same clock
WINDOW = 0.15  # seconds: how far a reply may sit from where the running offset predicts it
BIN = 0.005


@dataclass(frozen=True)
class ClockAlignment:
    offsets: dict[int, float]  # connection position -> seconds added to its packet times
    matched: int  # connections matched to a server session
    total: int

    def shift(self, packets: list[PacketRow]) -> list[PacketRow]:
        return [replace(p, t=p.t + self.offsets.get(p.connection, 0.0)) for p in packets]

    def describe(self) -> str:
        ms = sorted(o * 1000 for o in self.offsets.values())
        span = f"{ms[0]:+.1f} ms" if ms[-1] - ms[0] < 0.05 else f"{ms[0]:+.1f} to {ms[-1]:+.1f} ms"
        rest = "" if self.matched == self.total else \
            f"; the other {self.total - self.matched} take the offset of the nearest matched connection"
        return (f"The capture is not on the host clock: packet times shifted by {span} so that each "
                f"connection's first server reply lines up with the transcript ({self.matched} of {self.total} "
                f"connections matched{rest})")


def _first_replies(entries: list[TranscriptEntry]) -> list[tuple[float, str]]:
    """(time, server) of each session's first server-to-client record."""
    first: dict[tuple[str, int], float] = {}
    for e in entries:
        if e.direction == "s>c" and e.data:
            key = (e.server, e.session)
            first[key] = min(first.get(key, e.t), e.t)
    return sorted((t, server) for (server, _), t in first.items())


def _likeliest_offset(replies: list[float], anchors: list[float]) -> float:
    """The offset most (reply, anchor) pairs agree on, to ``BIN`` (a histogram of differences)."""
    replies, anchors = replies[:400], anchors[:400]
    bins: dict[int, list[float]] = {}
    for r in replies:
        for a in anchors:
            bins.setdefault(round((r - a) / BIN), []).append(r - a)
    best = max(bins.values(), key=len)
    return statistics.median(best)


def align_capture(connections: list[Connection], entries: list[TranscriptEntry],
                  protocol: Callable[[Connection], str | None]) -> ClockAlignment | None:
    """Per-connection offsets onto the transcripts' clock, or None when the clocks already agree."""
    replies = _first_replies(entries)
    anchors = [(i, c.s2c.data_segments[0].time, protocol(c)) for i, c in enumerate(connections)
               if c.s2c.data_segments]
    if not replies or not anchors:
        return None
    anchors.sort(key=lambda a: a[1])
    used: set[int] = set()
    offsets: dict[int, float] = {}
    offset = _likeliest_offset([t for t, _ in replies], [t for _, t, _ in anchors])
    for i, t, proto in anchors:
        best = min((j for j, (_, server) in enumerate(replies) if j not in used and proto in (None, server)),
                   key=lambda j: abs(replies[j][0] - (t + offset)), default=None)
        if best is None or abs(replies[best][0] - (t + offset)) > WINDOW:
            continue
        used.add(best)
        offset = offsets[i] = replies[best][0] - t
    if not offsets or abs(statistics.median(offsets.values())) < THRESHOLD:
        return None
    matched = len(offsets)
    known = sorted(offsets)
    for i, c in enumerate(connections):  # no server data or no session: the nearest matched connection's
        if i not in offsets:
            offsets[i] = offsets[min(known, key=lambda k: abs(k - i))]
    return ClockAlignment(offsets, matched, len(connections))


CAUSAL_GAP = 1e-6  # seconds: how far after the transcript line its packet is put when the clocks disagree


def _sessions_of(entries: list[TranscriptEntry]) -> dict[tuple[str, int], list[TranscriptEntry]]:
    out: dict[tuple[str, int], list[TranscriptEntry]] = {}
    for e in entries:
        if e.direction == "s>c" and e.data:
            out.setdefault((e.server, e.session), []).append(e)
    return out


def _match_sessions(connections: list[Connection], entries: list[TranscriptEntry],
                    protocol: Callable[[Connection], str | None]) -> dict[int, list[TranscriptEntry]]:
    """Connection position -> its server session's s>c records: sessions taken in order, each once,
    the first unused one of the same server whose replies begin with what the connection carried."""
    sessions = _sessions_of(entries)
    used: set[tuple[str, int]] = set()
    out: dict[int, list[TranscriptEntry]] = {}
    for i in sorted(range(len(connections)), key=lambda k: connections[k].start):
        head = connections[i].s2c.stream[:32]
        if not head:
            continue
        proto = protocol(connections[i])
        for key in sorted(sessions):
            if key in used or (proto and key[0] != proto):
                continue
            if b"".join(e.data for e in sessions[key]).startswith(head):
                used.add(key)
                out[i] = sorted(sessions[key], key=lambda e: e.t)
                break
    return out


def causal_order(packets: list[PacketRow], connections: list[Connection], entries: list[TranscriptEntry],
                 protocol: Callable[[Connection], str | None]) -> tuple[list[PacketRow], int]:
    """Packet times no earlier than the transcript line that wrote their first octet, and never
    earlier than the frame before them: the capture's clock and the transcript's may differ by a few
    hundred microseconds, and a reply must not appear before the server wrote it (frames of one
    connection keep their order). Returns the
    packets (frame order kept) and how many were moved."""
    bound: dict[int, float] = {}  # frame -> earliest time it may have
    for ci, records in _match_sessions(connections, entries, protocol).items():
        half = connections[ci].s2c
        starts, t = [], 0
        for r in records:
            starts.append(t)
            t += len(r.data)
        for off, frame in zip(half.chunk_offsets, half.chunk_packets):
            k = bisect.bisect_right(starts, off) - 1
            if 0 <= k < len(records):
                bound[frame] = max(bound.get(frame, 0.0), records[k].t + CAUSAL_GAP)
    out: list[PacketRow] = []
    moved = 0
    floor: dict[int, float] = {}  # per connection: the time of its previous frame
    for p in sorted(packets, key=lambda p: p.index):
        t = max(p.t, bound.get(p.index, p.t), floor.get(p.connection, float("-inf")))
        floor[p.connection] = t
        if t != p.t:
            moved += 1
            p = replace(p, t=t)
        out.append(p)
    return out, moved
