"""Client segment payload sizes over time against the allowed limit, as inline SVG.

``build_payload_plot`` gathers the points (one per client data segment, in
frame order) and each connection's limit; ``render_payload_svg`` draws them
on the capture's time axis (ms since the first). Hand-drawn: a few thousand
circles need no plotting library, and the page stays one self-contained file.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from bench.capture.tcpflow import Connection

MAX_POINTS = 3000
MAX_LABELS = 40  # points above the limit labelled with frame and size


@dataclass(frozen=True)
class Limit:
    value: int
    source: str  # "POP-WIRE-2 verdict", "declared pop3_payload"


@dataclass(frozen=True)
class PlotPoint:
    n: int  # 1-based ordinal among the client data segments
    packet: int  # frame number
    t: float
    size: int
    limit: Limit | None
    retransmission: bool
    connection: str

    @property
    def over(self) -> bool:
        return self.limit is not None and self.size > self.limit.value


@dataclass
class PayloadPlot:
    points: list[PlotPoint]
    total: int  # client data segments before thinning

    @property
    def over(self) -> list[PlotPoint]:
        return [p for p in self.points if p.over]

    @property
    def limits(self) -> list[Limit]:
        return list(dict.fromkeys(p.limit for p in self.points if p.limit is not None))


def build_payload_plot(connections: list[Connection], limit_for: Callable[[Connection], Limit | None],
                       max_points: int = MAX_POINTS) -> PayloadPlot:
    """Every client data segment with its connection's limit; thinned evenly above ``max_points``
    (points above their limit are always kept)."""
    raw = []
    for conn in connections:
        limit = limit_for(conn)
        raw += [(s, limit, conn.subject) for s in conn.c2s.segments if s.payload_len]
    raw.sort(key=lambda r: r[0].index)
    points = [PlotPoint(n, s.index, s.time, s.payload_len, lim, s.retransmission, subj)
              for n, (s, lim, subj) in enumerate(raw, 1)]
    if len(points) > max_points:
        stride = math.ceil(len(points) / max_points)
        points = [p for p in points if p.over or p.n % stride == 1 or p.n == len(raw)]
    return PayloadPlot(points, len(raw))


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = max(span, 1) / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def render_payload_svg(plot: PayloadPlot, width: int = 960, height: int = 280) -> str:
    """The plot as one ``<svg>`` element (no external assets)."""
    ml, mr, mt, mb = 60, 20, 14, 44
    pw, ph = width - ml - mr, height - mt - mb
    n_max = max((p.n for p in plot.points), default=1)
    t0 = min((p.t for p in plot.points), default=0.0)
    span = max(max((p.t for p in plot.points), default=0.0) - t0, 1e-3)
    top = max([p.size for p in plot.points] + [lim.value for lim in plot.limits] + [1])
    ystep = _nice_step(top * 1.1)
    ymax = math.ceil(top * 1.1 / ystep) * ystep

    def x(t: float) -> float:  # 2 % margin each side
        return ml + (0.02 + 0.96 * (t - t0) / span) * pw

    def y(v: float) -> float:
        return mt + ph - v / ymax * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="client segment payload sizes">']
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="plot-bg"/>')
    v = 0.0
    while v <= ymax + 1e-9:
        yy = y(v)
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                   f'<text x="{ml - 6}" y="{yy + 4:.1f}" class="tick" text-anchor="end">{v:g}</text>')
        v += ystep
    xstep = _nice_step(span * 1000, 10)
    k = 0.0
    while k <= span * 1000 + 1e-9:
        out.append(f'<text x="{x(t0 + k / 1000):.1f}" y="{mt + ph + 16}" class="tick" text-anchor="middle">{k:g}</text>')
        k += xstep
    out.append(f'<text x="{ml + pw / 2}" y="{height - 6}" class="axis" text-anchor="middle">'
               'ms since the first client data segment</text>')
    out.append(f'<text x="14" y="{mt + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {mt + ph / 2})">payload (octets)</text>')
    # the limit: a step line, one run per stretch of points sharing a limit
    run: list[PlotPoint] = []
    for p in plot.points + [None]:  # type: ignore[list-item]
        if run and (p is None or p.limit != run[0].limit):
            lim = run[0].limit
            if lim is not None:
                yy = y(lim.value)
                out.append(f'<line x1="{x(run[0].t) - 4:.1f}" x2="{x(run[-1].t) + 4:.1f}" y1="{yy:.1f}" '
                           f'y2="{yy:.1f}" class="limit" data-limit="{lim.value}">'
                           f'<title>limit {lim.value} octets ({escape(lim.source)})</title></line>')
            run = []
        if p is not None:
            run.append(p)
    r = 3.5 if n_max <= 200 else 2.5 if n_max <= 1000 else 1.6
    for p in plot.points:
        cls = "pt over" if p.over else "pt"
        if p.retransmission:
            cls += " retrans"
        allowed = f"limit {p.limit.value} ({p.limit.source})" if p.limit else "no limit known"
        tip = (f"frame {p.packet} at {(p.t - t0) * 1000:.1f} ms: {p.size} octets{' ABOVE ' if p.over else ', '}{allowed}"
               f"{', retransmission' if p.retransmission else ''}; {p.connection}")
        out.append(f'<circle cx="{x(p.t):.1f}" cy="{y(p.size):.1f}" r="{r}" class="{cls}" '
                   f'data-packet="{p.packet}" data-size="{p.size}"><title>{escape(tip)}</title></circle>')
    for p in plot.over[:MAX_LABELS]:  # name the offenders: frame number and size
        out.append(f'<text x="{x(p.t) + r + 3:.1f}" y="{y(p.size) + 4:.1f}" class="over-label">'
                   f"#{p.packet}: {p.size}</text>")
    out.append("</svg>")
    return "".join(out)
