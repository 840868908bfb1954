"""How a mail body goes over the UART: as ``smtp.body`` requests, with every long run
of the fill pattern (docs/agent-protocol.md, "Fill pattern") sent as ``fill=N`` for
the device to generate, the rest as base64 ``data=`` chunks. The device's buffer
then holds the same bytes as if all had been sent as data: the server's copy is
still compared byte for byte with the workload's body.
"""
from __future__ import annotations

from bench.agent.device import BODY_CHUNK, BodyPiece
from bench.workload.fill import fill_pattern

#: a run of the fill pattern at least this long goes as ``fill=``: shorter ones cost
#: less as data than a request and its reply
FILL_MIN = 256
_HEAD = fill_pattern(FILL_MIN)
_BLOCK = 4096


def _fill_run(body: bytes, at: int) -> int:
    """How many octets of ``body`` from ``at`` on equal the fill pattern from its start."""
    want = fill_pattern(len(body) - at)
    n = 0
    while n < len(want) and body[at + n:at + n + _BLOCK] == want[n:n + _BLOCK]:
        n += _BLOCK
    n = min(n, len(want))
    end = min(n + _BLOCK, len(want))
    while n < end and body[at + n] == want[n]:
        n += 1
    return n


def body_pieces(body: bytes) -> list[BodyPiece]:
    """``body`` as requests in order: data chunks of at most ``BODY_CHUNK`` octets and
    fill runs of at least ``FILL_MIN``. Their concatenation is ``body``."""
    pieces: list[BodyPiece] = []
    start = pos = 0
    while (at := body.find(_HEAD, pos)) >= 0:
        run = _fill_run(body, at)  # >= FILL_MIN: it starts with _HEAD
        pieces += [BodyPiece(body[i:min(i + BODY_CHUNK, at)]) for i in range(start, at, BODY_CHUNK)]
        pieces.append(BodyPiece(fill=run))
        start = pos = at + run
    pieces += [BodyPiece(body[i:i + BODY_CHUNK]) for i in range(start, len(body), BODY_CHUNK)]
    return pieces


def expand(pieces: list[BodyPiece]) -> bytes:
    """What the device's buffer holds after ``pieces`` (the test of ``body_pieces``)."""
    return b"".join(p.data + fill_pattern(p.fill) for p in pieces)
