"""Pictures where people would rather look than read, as inline SVG (no assets,
no plotting library: a self-contained page with a few hundred elements is
simpler drawn by hand than shipped with a JS or image toolchain).

``memory_trace`` + ``render_memory_svg``: heap, packet-buffer pool and TCP
PCBs free after each round of a soak (the ``sys.info`` answers in the UART
log), against the figures before the first round.

``sequence`` + ``render_sequence_svg``: one connection as a sequence diagram,
device on the left, server on the right, time downwards: SYN, each command and
reply (its first line), FIN and RST, the frames a failed verdict cites in red.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from bench.capture.tcpflow import Connection, lines
from bench.report.redact import MARK, redact
from bench.report.artifacts import UartLine

_INFO = re.compile(r"^(\S+) ok .*\bheap_free=(\d+) pool_free=(\d+) pool_total=(\d+) pcb_free=(\d+) pcb_total=(\d+)")
SERIES = (("heap_free", "heap free (octets)"), ("pool_free", "packet buffers free"), ("pcb_free", "TCP PCBs free"))
MAX_EVENTS = 80  # arrows in one sequence diagram


@dataclass(frozen=True)
class MemorySample:
    round: int  # mails sent before it (0: the baseline, before the first)
    t: float
    heap_free: int
    pool_free: int
    pool_total: int
    pcb_free: int
    pcb_total: int


def memory_trace(lines: list[UartLine]) -> list[MemorySample]:
    """Every ``sys.info`` answer with the number of ``smtp.send`` requests before it, in order."""
    sent, out = 0, []
    info_ids: set[str] = set()
    for u in lines:
        if u.direction == "host":
            parts = u.text.split(" ", 2)
            if len(parts) >= 2 and parts[1] == "smtp.send":
                sent += 1
            elif len(parts) >= 2 and parts[1] == "sys.info":
                info_ids.add(parts[0])
            continue
        m = _INFO.match(u.text)
        if m and m.group(1) in info_ids:
            heap, pool, pool_total, pcb, pcb_total = (int(g) for g in m.groups()[1:])
            out.append(MemorySample(sent, u.t, heap, pool, pool_total, pcb, pcb_total))
    return out


def _axes(out: list[str], x0: int, y0: int, w: int, h: int, top: float, label: str) -> None:
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" class="plot-bg"/>')
    for k in range(5):
        v = top * k / 4
        yy = y0 + h - h * k / 4
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                   f'<text x="{x0 - 6}" y="{yy + 4:.1f}" class="tick" text-anchor="end">{v:,.0f}</text>')
    out.append(f'<text x="{x0 + 4}" y="{y0 - 4}" class="axis">{escape(label)}</text>')


def render_memory_svg(samples: list[MemorySample], width: int = 960, panel: int = 120) -> str:
    """Three panels (heap, pool, PCBs): free after each round, the baseline dashed."""
    ml, mr, gap = 70, 20, 34
    height = 3 * (panel + gap) + 24
    rounds = max((s.round for s in samples), default=1) or 1
    pw = width - ml - mr
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot mem" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="memory over the rounds">']
    base = samples[0]
    for i, (field, label) in enumerate(SERIES):
        y0 = 18 + i * (panel + gap)
        values = [getattr(s, field) for s in samples]
        top = max(max(values), 1) * 1.1
        _axes(out, ml, y0, pw, panel, top, label)

        def x(r: float) -> float:
            return ml + r / rounds * pw

        def y(v: float, y0: int = y0, top: float = top) -> float:
            return y0 + panel - v / top * panel

        yb = y(getattr(base, field))
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{yb:.1f}" y2="{yb:.1f}" class="limit baseline" '
                   f'data-series="{field}" data-baseline="{getattr(base, field)}"><title>before the first round: '
                   f'{getattr(base, field):,}</title></line>')
        pts = " ".join(f"{x(s.round):.1f},{y(getattr(s, field)):.1f}" for s in samples)
        out.append(f'<polyline points="{pts}" class="series" data-series="{field}" fill="none"/>')
        for s in samples:
            v = getattr(s, field)
            below = v < getattr(base, field)
            out.append(f'<circle cx="{x(s.round):.1f}" cy="{y(v):.1f}" r="2.2" class="pt{" over" if below else ""}" '
                       f'data-series="{field}" data-round="{s.round}" data-value="{v}"><title>after round {s.round}: '
                       f"{v:,}{' (below the baseline)' if below else ''}</title></circle>")
    out.append(f'<text x="{ml + pw / 2}" y="{height - 4}" class="axis" text-anchor="middle">round (mails sent)</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class SeqEvent:
    t: float
    frame: int
    client: bool  # device to server
    label: str
    kind: str  # "syn", "data", "fin", "rst"
    cited: bool


def _first_line(payload: bytes, limit: int = 48) -> str:
    line = payload.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    text = line.decode("latin-1")
    if len(text) > limit:
        text = text[:limit] + "…"
    more = " …" if len(payload) > len(line) + 2 else ""
    return f"{text}{more} ({len(payload)} octets)"


def _sasl_answers(conn: Connection) -> set[int]:
    """Client stream offsets of the lines that answer a server's ``334`` challenge."""
    out: set[int] = set()
    client = lines(conn.c2s)
    for reply in lines(conn.s2c):
        if reply.text.startswith(b"334"):
            nxt = next((ln for ln in client if ln.time >= reply.time), None)
            if nxt is not None:
                out.add(nxt.offset)
    return out


def sequence(conn: Connection, cited: frozenset[int] = frozenset()) -> list[SeqEvent]:
    """SYNs, data segments (their first line), FINs and RSTs of both sides, in frame order."""
    events = []
    sasl = _sasl_answers(conn)
    for client, half in ((True, conn.c2s), (False, conn.s2c)):
        base = half.base
        for s in half.segments:
            if "R" in s.flags:
                kind, label = "rst", "RST"
            elif "S" in s.flags:
                kind, label = "syn", "SYN" if client else "SYN-ACK"
            elif "F" in s.flags and not s.payload_len:
                kind, label = "fin", "FIN"
            elif s.payload_len and base is not None:
                off = (s.seq - base) % (1 << 32)
                kind, label = "data", redact(_first_line(half.stream[off:off + s.payload_len]))
                if client and off in sasl:  # a SASL answer (AUTH LOGIN's base64 user, password): never shown
                    label = f"{MARK} ({s.payload_len} octets)"
                if "F" in s.flags:
                    label += " + FIN"
            else:
                continue
            events.append(SeqEvent(s.time, s.index, client, label, kind, s.index in cited))
    events.sort(key=lambda e: e.frame)
    return events


def render_sequence_svg(events: list[SeqEvent], title: str, width: int = 960) -> str:
    """Device and server lifelines, one arrow per event, time downwards with ms since the first."""
    shown = events[:MAX_EVENTS]
    row, top = 22, 40
    height = top + row * len(shown) + 30
    left, right = 150, width - 150
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot seq" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="16" class="axis" text-anchor="middle">device</text>',
           f'<text x="{right}" y="16" class="axis" text-anchor="middle">server</text>',
           f'<line x1="{left}" x2="{left}" y1="24" y2="{height - 10}" class="lifeline"/>',
           f'<line x1="{right}" x2="{right}" y1="24" y2="{height - 10}" class="lifeline"/>']
    t0 = shown[0].t if shown else 0.0
    for i, e in enumerate(shown):
        y = top + i * row
        x1, x2 = (left, right) if e.client else (right, left)
        cls = f"arrow {e.kind}{' cited' if e.cited else ''}"
        head = -7 if e.client else 7
        out.append(f'<g class="{cls}" data-frame="{e.frame}" data-client="{int(e.client)}">'
                   f'<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y + 8}"/>'
                   f'<path d="M{x2},{y + 8} l{head},-6 l0,8 z"/>'
                   f'<text x="{(left + right) / 2}" y="{y}" text-anchor="middle" class="msg">'
                   f'{"✗ " if e.cited else ""}#{e.frame} {escape(e.label)}</text></g>'
                   f'<text x="{left - 10}" y="{y + 8}" class="tick" text-anchor="end">{(e.t - t0) * 1000:.1f} ms</text>')
    if len(events) > len(shown):
        out.append(f'<text x="{left}" y="{height - 12}" class="tick">{len(events) - len(shown)} later frames '
                   "not drawn (see the capture)</text>")
    out.append("</svg>")
    return "".join(out)
