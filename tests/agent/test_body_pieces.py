"""Mail bodies over the UART: fill-pattern runs go as ``fill=`` and come out the same."""
from __future__ import annotations

import pytest

from bench.agent.device import BODY_CHUNK
from bench.workload.body import FILL_MIN, body_pieces, expand
from bench.workload.fill import fill_pattern

DOTTED = b".first\r\n" + fill_pattern(6000) + b".\r\n..two dots\r\n"  # cut mid-line, like a workload's


@pytest.mark.parametrize("body", [
    b"", b"x", b"soak body\r\n.dot\r\n", DOTTED, fill_pattern(70_000), bytes(range(256)) * 5,
    fill_pattern(FILL_MIN - 1), b"a" + fill_pattern(FILL_MIN) + fill_pattern(300) + b"z",
])
def test_pieces_rebuild_the_body_byte_for_byte(body: bytes) -> None:
    pieces = body_pieces(body)
    assert expand(pieces) == body
    assert all(len(p.data) <= BODY_CHUNK and (p.fill == 0 or p.fill >= FILL_MIN) for p in pieces)
    assert all(bool(p.data) != bool(p.fill) for p in pieces)


def test_fill_runs_are_generated_on_the_device_not_sent() -> None:
    pieces = body_pieces(DOTTED)
    assert [(len(p.data), p.fill) for p in pieces] == [(8, 0), (0, 6000), (15, 0)]
    assert sum(len(p.data) for p in body_pieces(bytes(range(256)) * 5)) == 1280  # no pattern: all as data
