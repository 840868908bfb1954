"""One time axis for a test: UART lines, server transcript records and TCP segments.

``build_timeline`` merges the three sources, sorts by time, marks the packets
failed verdicts cite and caps the row count (failing packets beyond the cap are
still kept, so the evidence is always on the page).
"""
from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bench.checks.verdict import Evidence
from bench.report.artifacts import PacketRow, TranscriptEntry, UartLine

Source = Literal["uart", "transcript", "packet"]
_ORDER: dict[str, int] = {"uart": 0, "transcript": 1, "packet": 2}
MAX_TEXT = 240  # characters of one row's text shown
UART_SLACK = 1.0  # seconds between a device line and the end of the operation it answered
_T = re.compile(r"\bt=(\d+\.\d+)")
_BODY = re.compile(r"^(\S+) smtp\.body\b(.*)$")
_DATA = re.compile(r"\bdata=(\S+)")
_SHOWN = re.compile(r"\bdata=\((\d+) octets\)")


@dataclass(frozen=True)
class TimelineRow:
    t: float
    source: Source
    label: str  # "UART >>", "SMTP c>s", "pkt c>s"
    text: str  # plain text, escaped at render time
    packet: int | None = None
    failing: bool = False
    direction: str = ""  # "host"/"dev", "c>s"/"s>c"/"event"

    @property
    def key(self) -> str:
        """What evidence cites: ``pkt-7``, or the source and the time to the microsecond."""
        if self.packet is not None:
            return f"pkt-{self.packet}"
        return f"{self.source[0]}{round(self.t * 1e6)}"


def evidence_keys(e: Evidence, device_lines: list[float] | None = None) -> list[str]:
    """The timeline keys one piece of evidence points at: its packets, or the line its ``t=`` locator names.

    A UART locator is the time the agent operation ended, just after the device's answer was logged:
    it names the latest device line (times in ``device_lines``, sorted) at or before it, within a second.
    """
    keys = [f"pkt-{p}" for p in e.packets]
    m = _T.search(e.locator)
    if m and e.source in ("uart", "transcript"):
        t = float(m.group(1))
        if e.source == "uart" and device_lines:
            i = bisect.bisect_right(device_lines, t + 1e-6) - 1
            if i >= 0 and t - device_lines[i] < UART_SLACK:
                t = device_lines[i]
        keys.append(f"{e.source[0]}{round(t * 1e6)}")
    return keys


@dataclass
class Timeline:
    rows: list[TimelineRow]  # shown, in time order
    t0: float  # time of the first event of all (rows and omitted)
    total: int  # events before the cap
    omitted: int  # events left out by the cap

    def rel_ms(self, row: TimelineRow) -> float:
        return (row.t - self.t0) * 1000.0

    @property
    def sources(self) -> set[str]:
        return {r.source for r in self.rows}


def show_bytes(data: bytes, limit: int = MAX_TEXT) -> str:
    """Bytes as Python would escape them (CR, LF, NUL visible), shortened to ``limit`` characters."""
    text = repr(data)[2:-1]
    if len(text) > limit:
        return f"{text[:limit]}… ({len(data)} bytes)"
    return text


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def _uart_text(text: str) -> str:
    """A UART line as shown: a body chunk's base64 as the number of octets it carries."""
    m = _DATA.search(text)
    if m and " smtp.body " in text:
        return _short(f"{text[:m.start()]}data=({_body_octets(text)} octets){text[m.end():]}")
    return _short(text)


def uart_rows(lines: Iterable[UartLine]) -> list[TimelineRow]:
    return [TimelineRow(u.t, "uart", "UART " + (">>" if u.direction == "host" else "<<"), _uart_text(u.text),
                        direction=u.direction) for u in lines]


def transcript_rows(entries: Iterable[TranscriptEntry]) -> list[TimelineRow]:
    rows = []
    for e in entries:
        text = show_bytes(e.data) if e.direction != "event" else _short(e.data.decode("latin-1"))
        if e.note:
            text = f"{text}   # {_short(e.note, 120)}" if text else _short(e.note)
        rows.append(TimelineRow(e.t, "transcript", f"{e.server.upper()} #{e.session} {e.direction}", text,
                                direction=e.direction))
    return rows


def packet_rows(packets: Iterable[PacketRow]) -> list[TimelineRow]:
    rows = []
    for p in packets:
        text = f"#{p.index} {p.src} → {p.dst} [{p.flags}] len={p.payload_len}"
        if p.retransmission:
            text += " retransmission"
        rows.append(TimelineRow(p.t, "packet", f"pkt {p.direction}", text, p.index, False, p.direction))
    return rows




def _body_octets(args: str) -> int:
    """Octets a ``smtp.body`` line carries: its ``data=`` base64 decoded, or ``data=(N octets)`` as shown."""
    m = _DATA.search(args)
    if not m:
        return 0
    shown = _SHOWN.search(args)
    if shown:
        return int(shown.group(1))
    try:
        return len(base64.b64decode(m.group(1), validate=False))
    except (ValueError, binascii.Error):
        return 0


def fold_body_lines(rows: list[TimelineRow], keep: frozenset[str] = frozenset()) -> list[TimelineRow]:
    """Runs of UART lines that load a mail body (``smtp.body`` requests and the device's answers to them)
    as one row: "22 smtp.body lines, 8,448 octets". Rows in ``keep`` (cited by a verdict) are not folded."""
    out: list[TimelineRow] = []
    run: list[TimelineRow] = []
    ids: set[str] = set()
    octets = 0

    def flush() -> None:
        nonlocal octets
        requests = sum(1 for r in run if r.direction == "host")
        if requests >= 3:
            text = f"{requests} smtp.body lines, {octets:,} octets (and the device's {len(run) - requests} answers)"
            out.append(TimelineRow(run[0].t, "uart", "UART >> ×" + str(requests), text, direction="host"))
        else:
            out.extend(run)
        run.clear()
        ids.clear()
        octets = 0

    for r in rows:
        m = _BODY.match(r.text) if r.source == "uart" and r.key not in keep else None
        if m and r.direction == "host":
            run.append(r)
            ids.add(m.group(1))
            octets += _body_octets(m.group(2))
            continue
        if run and r.source == "uart" and r.direction == "dev" and r.text.split(" ", 1)[0] in ids \
                and r.key not in keep:
            run.append(r)
            continue
        if run:
            flush()
        out.append(r)
    if run:
        flush()
    return out


def build_timeline(uart: Iterable[UartLine], transcripts: Iterable[TranscriptEntry], packets: Iterable[PacketRow],
                   cited: frozenset[str] = frozenset(), limit: int = 2000,
                   extra_failing: int = 200) -> Timeline:
    """Merge and sort; mark the rows whose ``key`` is in ``cited`` (failed verdicts' evidence) as failing;
    fold body-loading lines; keep the first ``limit`` rows plus up to ``extra_failing`` failing rows after them."""
    rows = uart_rows(uart) + transcript_rows(transcripts) + packet_rows(packets)
    rows = [TimelineRow(r.t, r.source, r.label, r.text, r.packet, True, r.direction) if r.key in cited else r
            for r in rows]
    rows.sort(key=lambda r: (r.t, _ORDER[r.source], r.packet or 0))
    rows = fold_body_lines(rows, cited)
    if not rows:
        return Timeline([], 0.0, 0, 0)
    shown = rows[:limit]
    shown += [r for r in rows[limit:] if r.failing][:extra_failing]
    return Timeline(shown, rows[0].t, len(rows), len(rows) - len(shown))
