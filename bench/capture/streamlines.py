"""Lines of a reassembled TCP stream (``StreamLine``), each with the frames that carried it."""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from bench.capture.connection import Direction


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
