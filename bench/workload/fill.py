"""The fill pattern of docs/agent-protocol.md, reproduced on the host."""
from __future__ import annotations


def fill_line(k: int) -> bytes:
    if k % 16 == 5:
        return b".leading dot line %06d\r\n" % k
    return b"line %06d the quick brown fox jumps over the lazy dog\r\n" % k


def fill_pattern(n: int) -> bytes:
    out = bytearray()
    k = 0
    while len(out) < n:
        out += fill_line(k)
        k += 1
    return bytes(out[:n])
