"""Line framing and command order, as POP3 and SMTP wire checks judge them: CRLF lines, no command before its reply."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from bench.capture.dialogue import Dialogue
from bench.capture.tcpflow import StreamLine
from bench.checks.packets import packet_evidence, show
from bench.checks.verdict import Evidence


def line_evidence(line: StreamLine, why: str, artifact: Path | None) -> Evidence:
    return packet_evidence(line.packets, f"{why}: {show(line.text)}", artifact)


def early_units(d: Dialogue, artifact: Path | None,
                skip: Callable[[int], bool] = lambda k: False) -> list[tuple[int, Evidence]]:
    """Units sent before the reply they must wait for was complete."""
    out: list[tuple[int, Evidence]] = []
    for k, unit in enumerate(d.units):
        if skip(k):
            continue
        reply = d.reply_before(k)
        first = unit.first.first_packet
        what = "DATA section" if unit.kind == "data" else show(unit.first.body, 40)
        if reply is None or not reply.complete:
            out.append((k, packet_evidence(
                [first] + ([reply.last_packet] if reply else []),
                f"{what} sent (packet {first}) with no complete reply before it"
                + (f" (reply {k} incomplete)" if reply else f" (only {len(d.replies)} replies)"), artifact)))
        elif first < reply.last_packet:
            out.append((k, packet_evidence(
                [first, reply.last_packet],
                f"{what} sent at packet {first}, before the reply completed at packet {reply.last_packet}"
                f" ({show(reply.first.body, 30)})", artifact)))
    return out


def line_end_failures(lns: Iterable[StreamLine], artifact: Path | None) -> list[Evidence]:
    out = []
    for line in lns:
        if not line.terminated:
            out.append(line_evidence(line, "line without CRLF at the end of the stream", artifact))
        elif not line.crlf:
            out.append(line_evidence(line, "bare LF line ending", artifact))
        elif b"\r" in line.text[:-2]:
            out.append(line_evidence(line, "bare CR inside a line", artifact))
    return out
