"""The run's single self-contained HTML report: inline CSS and SVG, a few lines of JS.

``write_html_report(run_dir)`` reads the run (``bench.report.model``) and
renders it here; every piece of recorded text goes through ``html.escape``.

Hand-written rather than a jinja2 template: the page is one data model
rendered by small functions, much of it SVG and ``data-*`` attributes whose
escaping a template would not decide for us, and the tests parse the output
(escaping included: ``tests/report/test_html_report.py``). A template engine
would add a dependency and move the same decisions into another language.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path

from bench.checks.verdict import Measurement, Outcome
from bench.report.diagrams import render_memory_svg, render_sequence_svg
from bench.report.model import CriterionRow, Link, ReportModel, TestView, VerdictView, build_report
from bench.report.plot import render_payload_svg
from bench.report.style import CSS as _CSS
from bench.report.style import JS as _JS
from bench.report.timeline import Timeline, evidence_keys

_SYMBOL = {"<=": "≤", ">=": "≥", "==": "="}


def _badge(outcome: Outcome | str | None, label: str | None = None) -> str:
    key = outcome.value if isinstance(outcome, Outcome) else (outcome or "none")
    text = label or ("not exercised" if outcome is None else key)
    return f'<span class="badge b-{escape(key.replace(" ", "-"))}">{escape(text)}</span>'


def _cls(outcome: Outcome | None) -> str:
    return outcome.value if outcome else "none"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "—"


def _when_ms(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d} UTC"


def _md(text: str) -> str:
    """Escape, then render the catalogue's `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _a(link: Link, label: str | None = None) -> str:
    return f'<a href="{escape(link.href)}">{escape(label or link.label)}</a>'


def _fmt(v: object) -> str:
    return "—" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _measurement_row(m: Measurement) -> str:
    try:
        ok = m.passes()
    except (TypeError, ValueError):
        ok = None
    allowed = "recorded only" if m.limit is None else f"{_SYMBOL.get(m.comparator, m.comparator)} {_fmt(m.limit)}"
    mark = "" if m.limit is None else '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
    unit = escape(m.unit)
    return (f"<tr><td>{escape(m.name)}</td><td class=num>{escape(_fmt(m.value))} {unit}</td>"
            f"<td class=num>{escape(allowed)} {unit if m.limit is not None else ''}</td><td>{mark}</td></tr>")


def _packets(view: VerdictView, packets: Iterable[int], shown: dict[str, float]) -> str:
    out = []
    for p in packets:
        if f"pkt-{p}" in shown:
            out.append(f'<a href="#{escape(view.test.anchor)}-pkt-{p}">#{p}</a>')
        else:
            out.append(f"#{p}")
    return ", ".join(out)


def _verdict_card(view: VerdictView, shown: dict[str, float], show_test: bool = True) -> str:
    v = view.verdict
    head = [_badge(v.outcome), f'<span class="cid">{escape(v.criterion)}</span>']
    if show_test:
        head.append(f'<a href="#{escape(view.test.anchor)}">{escape(view.test.nodeid.split("::")[-1])}</a>')
    if v.subject:
        head.append(f'<span class="subject">{escape(v.subject)}</span>')
    out = [f'<div class="verdict {_cls(v.outcome)}" id="{escape(view.anchor)}">',
           f'<div class="vhead">{" ".join(head)}</div>',
           f'<div class="summary">{escape(v.summary)}{_follows(view)}</div>']
    if v.measurements:
        out.append("<table><tr><th>measurement</th><th>measured</th><th>allowed</th><th></th></tr>")
        out += [_measurement_row(m) for m in v.measurements]
        out.append("</table>")
    for i, e in enumerate(v.evidence):
        link = view.evidence_links[i] if i < len(view.evidence_links) else None
        keys = view.evidence_keys[i] if i < len(view.evidence_keys) else evidence_keys(e)
        loc = escape(e.locator)
        line_keys = [k for k in keys if not k.startswith("pkt-") and k in shown]
        if line_keys:  # a UART or transcript line on the timeline
            loc = (f'<a href="#{escape(view.test.anchor)}-{line_keys[0]}">{loc}</a> '
                   f'<span class="muted">({shown[line_keys[0]]:.1f} ms on the timeline)</span>')
        where = [f'<span class="src">{escape(e.source)}</span>', f'<span class="loc">{loc}</span>']
        if link is not None:
            where.append("in " + _a(link))
        elif e.artifact is not None:
            where.append(f'<span class="muted">in {escape(e.artifact.name)} (file not in the run directory)</span>')
        if e.packets:
            where.append(f"frames {_packets(view, e.packets, shown)}")
        out.append(f'<div class="ev">{" ".join(where)}<pre>{escape(e.excerpt)}</pre></div>')
    out.append("</div>")
    return "".join(out)


def _first_screen(m: ReportModel) -> str:
    """What failed and why, before anything else: the boot, then each failed test's first reasons."""
    out = []
    if m.never_booted:
        why = m.boot_failure or "no boot was recorded and the device never answered"
        out.append('<div class="alarm" id="never-booted"><b>The board never booted.</b> No test ran on a device; '
                   f"nothing was judged. <pre>{escape(why)}</pre></div>")
    failed = m.failed_tests
    if not failed:
        return "".join(out)
    out.append(f'<div class="first" id="what-failed"><b>{len(failed)} of {len(m.tests)} tests failed</b><ol>')
    for t in failed[:12]:
        bad = [v for v in t.verdicts if v.verdict.outcome in (Outcome.FAIL, Outcome.INCONCLUSIVE)]
        bad = [v for v in bad if v.verdict.is_root] + [v for v in bad if not v.verdict.is_root]  # causes first
        reasons = "".join(
            f'<li{" class=consequence" if v.verdict.follows else ""}>{"↳ " if v.verdict.follows else ""}'
            f'{_badge(v.verdict.outcome)} <a href="#{escape(v.anchor)}" class="cid">{escape(v.verdict.criterion)}'
            f"</a> {escape(v.verdict.summary)}{_follows(v)}{_why(v) if v.verdict.is_root else ''}</li>"
            for v in bad[:4])
        if not bad:
            reasons = f"<li><pre>{escape(t.error.strip().splitlines()[-1] if t.error.strip() else t.outcome)}</pre></li>"
        more = f'<li class="muted">and {len(bad) - 4} more</li>' if len(bad) > 4 else ""
        out.append(f'<li><a href="#{escape(t.anchor)}" class="mono">{escape(t.nodeid.split("::")[-1])}</a>'
                   f"<ul>{reasons}{more}</ul></li>")
    if len(failed) > 12:
        out.append(f'<li class="muted">and {len(failed) - 12} more failed tests, below</li>')
    out.append("</ol></div>")
    return "".join(out)


def _follows(v: VerdictView) -> str:
    """A consequence names its cause: "follows from SMTP-MAIL-2: <why>"."""
    f = v.verdict.follows
    if not f:
        return ""
    why = f": {escape(v.verdict.follows_reason)}" if v.verdict.follows_reason else ""
    return f' <span class="muted">(follows from <a href="#crit-{escape(f)}" class="cid">{escape(f)}</a>{why})</span>'


def _why(v: VerdictView) -> str:
    """The figure outside its limit, else the first line of the first evidence."""
    measured = _measured(v)
    if measured or not v.verdict.evidence:
        return measured
    first = v.verdict.evidence[0]
    line = (first.excerpt.strip().splitlines() or [""])[0][:160]
    return f' <span class="muted">({escape(first.source)} {escape(first.locator)}: {escape(line)})</span>' if line else ""


def _measured(v: VerdictView) -> str:
    """The first measurement outside its limit, as "measured 132 octets, allowed ≤ 120"."""
    for ms in v.verdict.measurements:
        try:
            ok = ms.passes()
        except (TypeError, ValueError):
            ok = True
        if ms.limit is not None and not ok:
            unit = f" {ms.unit}" if ms.unit else ""
            return (f' <span class="muted">(measured {escape(ms.name)} = {escape(_fmt(ms.value))}{escape(unit)}, '
                    f"allowed {escape(_SYMBOL.get(ms.comparator, ms.comparator))} {escape(_fmt(ms.limit))})</span>")
    return ""


def _judged(m: ReportModel) -> str:
    """The image, target, catalogue, bench and host this run judged with (bench.report.identity)."""
    from bench.report.identity import properties

    pairs = properties(m.judged, m.device)
    if not pairs:
        return ""
    cells = "".join(f'<div><b>{escape(k)}</b><span class="mono" data-field="{escape(k)}">{escape(v)}</span></div>'
                    for k, v in pairs)
    return f'<h3>What was judged</h3><div class="meta judged">{cells}</div>'


def _header(m: ReportModel) -> str:
    dev = m.device or {}
    out = [f"<h1>Run {escape(m.run_id)}</h1>", _first_screen(m),
           '<div class="meta">',
           f"<div><b>target</b>{escape(m.target)}</div>",
           f"<div><b>catalogue</b>{escape(m.catalogue.path.name)} version {escape(m.catalogue.version)}</div>",
           f"<div><b>firmware</b>{escape(str(dev.get('fw', '—')))}</div>",
           f"<div><b>board</b>{escape(str(dev.get('board', '—')))}</div>",
           f"<div><b>capabilities</b>{escape(', '.join(dev.get('caps', [])) or '—')}</div>",
           f"<div><b>started</b>{_when(m.started)}</div>",
           f"<div><b>finished</b>{_when(m.finished)}"
           + (f" <span class=muted>({m.finished - m.started:.1f} s)</span>" if m.finished and m.started else "")
           + "</div>",
           "<div><b>files</b>" + (" ".join(_a(lk) for lk in m.links) or "—") + "</div>",
           "</div>", _judged(m)]
    vt, tt = m.verdict_totals, m.test_totals
    crit_worst = [c.worst for c in m.criteria]
    out.append('<div class="totals">')
    out.append(f'<div class="tot {"fail" if tt.get("failed") else "pass" if m.tests else ""}"><div class="n">'
               f'{len(m.tests)} tests</div>' + ", ".join(f"{n} {escape(k)}" for k, n in sorted(tt.items())) + "</div>")
    for o, cls in ((Outcome.FAIL, "fail"), (Outcome.INCONCLUSIVE, "inc"), (Outcome.PASS, "pass")):
        out.append(f'<div class="tot {cls if vt.get(o) else ""}"><div class="n">{vt.get(o, 0)}</div>'
                   f'verdicts {o.value}</div>')
    out.append(f'<div class="tot"><div class="n">{sum(1 for w in crit_worst if w is Outcome.FAIL)} / '
               f'{sum(1 for w in crit_worst if w is not None)} / {len(m.criteria)}</div>'
               "criteria failing / exercised / listed</div>")
    out.append("</div>")
    for o, label in ((Outcome.FAIL, "Failing criteria"), (Outcome.INCONCLUSIVE, "Inconclusive criteria")):
        ids = [c.criterion.id for c in m.criteria if c.worst is o]
        if ids:
            out.append(f'<div class="jump">{label}: ' + " ".join(
                f'<a href="#crit-{escape(i)}" class="badge b-{o.value}">{escape(i)}</a>' for i in ids) + "</div>")
    limits = dev.get("limits") or {}
    if limits:
        out.append("<h3>Declared limits (firmware banner)</h3><table><tr>"
                   + "".join(f"<th>{escape(str(k))}</th>" for k in limits) + "</tr><tr>"
                   + "".join(f"<td class=num>{escape(str(v))}</td>" for v in limits.values()) + "</tr></table>")
    if m.boots:
        out.append("<h3>Boots</h3><table><tr><th>#</th><th>reason</th><th>power-on</th><th>banner</th>"
                   "<th>boot time</th></tr>")
        for i, b in enumerate(m.boots, 1):
            start, banner = b.get("started") or 0, b.get("banner") or 0
            took = f"{(banner - start) * 1000:.0f} ms" if start and banner else "—"
            out.append(f"<tr><td class=num>{i}</td><td>{escape(str(b.get('reason', '')))}</td>"
                       f"<td>{_when(start)}</td><td>{_when(banner)}</td><td class=num>{took}</td></tr>")
        out.append("</table>")
    out += [f'<p class="note">{escape(n)}</p>' for n in m.notes]
    return "".join(out)


def _criteria(m: ReportModel, shown: dict[str, dict[str, float]]) -> str:
    source = f" (docs/{escape(m.catalogue.path.name)}, version {escape(m.catalogue.version)})"
    out = ['<h2 id="criteria">Verdicts by criterion<span class="toolbar">'
           '<button onclick="setAll(\'details.crit\',true)">expand all</button>'
           '<button onclick="setAll(\'details.crit\',false)">collapse all</button></span></h2>',
           f'<p class="muted">Every criterion of the catalogue{source}; the badge is the worst verdict. '
           "Click a row for its verdicts, measurements and evidence.</p>",
           '<div class="crit-head"><span></span><span>worst</span><span>criterion</span><span>requirement</span>'
           "<span>verdicts</span></div>"]
    section = None
    for row in m.criteria:
        if row.criterion.section != section:
            section = row.criterion.section
            out.append(f'<div class="section-head">{escape(section)}</div>')
        out.append(_criterion_row(row, shown))
    return "".join(out)


def _criterion_row(row: CriterionRow, shown: dict[str, dict[str, float]]) -> str:
    w = row.worst
    c = row.counts
    counts = ", ".join(f"{c[o]} {o.value}" for o in (Outcome.FAIL, Outcome.INCONCLUSIVE, Outcome.PASS) if c[o])
    tests = len(row.tests)
    counts = f"{counts} <span class=muted>({tests} test{'s' if tests != 1 else ''})</span>" if counts else \
        '<span class="muted">no verdict</span>'
    cid = escape(row.criterion.id)
    summary = (f'<summary><span class="tw"></span>{_badge(w)}<span class="cid">{cid}</span>'
               f"<span>{_md(row.criterion.text)}</span><span>{counts}</span></summary>")
    if not row.verdicts:
        return f'<details class="crit none" id="crit-{cid}">{summary}</details>'
    ordered = sorted(row.verdicts, key=lambda v: ({Outcome.FAIL: 0, Outcome.INCONCLUSIVE: 1}.get(
        v.verdict.outcome, 2), v.test.anchor, v.number))
    body = "".join(_verdict_card(v, shown.get(v.test.anchor, {})) for v in ordered)
    opened = " open" if w is Outcome.FAIL else ""
    return f'<details class="crit {_cls(w)}" id="crit-{cid}"{opened}>{summary}<div class="crit-body">{body}</div></details>'


def _test(t: TestView, shown: dict[str, float]) -> str:
    counts = ", ".join(f"{n} {o.value}" for o, n in sorted(
        ((o, sum(1 for v in t.verdicts if v.verdict.outcome is o)) for o in Outcome), key=lambda x: x[0].value) if n)
    failed = t.outcome in ("failed", "error")
    out = [f'<details class="test {escape(t.outcome.replace(" ", "-"))}" id="{escape(t.anchor)}"'
           f'{" open" if failed else ""}>',
           f'<summary><span class="tw"></span>{_badge(t.outcome)}<span class="mono">{escape(t.nodeid)}</span>'
           f"<span class=num>{t.duration:.2f} s</span><span>{escape(counts) or 'no verdicts'}</span></summary>",
           '<div class="test-body">']
    if t.criteria:
        out.append("<div>criteria: " + ", ".join(f'<a href="#crit-{escape(c)}" class="cid">{escape(c)}</a>'
                                                 for c in t.criteria) + "</div>")
    if t.workloads:
        when = f" <span class=muted>(from {_when_ms(t.window[0])} to {_when_ms(t.window[1])})</span>" if t.window else ""
        out.append(f"<div>workloads: {escape(', '.join(t.workloads))}{when}</div>")
    out.append('<div class="links">files: ' + (" ".join(_a(lk) for lk in t.links) or
                                                '<span class="muted">none recorded</span>') + "</div>")
    if t.error:
        out.append(f"<h3>Error</h3><pre>{escape(t.error)}</pre>")
    if t.verdicts:
        out.append('<h3>Verdicts</h3><table class="vt"><tr><th>outcome</th><th>criterion</th><th>subject</th>'
                   "<th>summary</th><th>measured vs allowed</th></tr>")
        for v in t.verdicts:
            ms = "<br>".join(
                f"{escape(m.name)}: {escape(_fmt(m.value))}"
                + (f" {escape(_SYMBOL.get(m.comparator, m.comparator))} {escape(_fmt(m.limit))}" if m.limit is not None
                   else "") + (f" {escape(m.unit)}" if m.unit else "") for m in v.verdict.measurements)
            out.append(f"<tr><td>{_badge(v.verdict.outcome)}</td><td class=mono><a href=\"#{escape(v.anchor)}\">"
                       f"{escape(v.verdict.criterion)}</a></td><td>{escape(v.verdict.subject)}</td>"
                       f"<td>{escape(v.verdict.summary)}</td><td>{ms}</td></tr>")
        out.append("</table>")
    for name, plot in t.plots:
        lims = "; ".join(f"{lim.value} octets ({escape(lim.source)})" for lim in plot.limits) or "none known"
        over = len(plot.over)
        conns = len({p.connection for p in plot.points})
        out.append(f"<h3>{escape(name)} client segment payload sizes over time <span class=muted>({plot.total} data segments, "
                   f"{conns} connection{'s' if conns != 1 else ''})</span></h3><div class=legend>"
                   f'<span><span class="sw" style="background:#0969da"></span>within limit</span>'
                   f'<span><span class="sw" style="background:#cf222e"></span>above limit ({over})</span>'
                   f'<span><span class="sw" style="border:1.5px solid #0969da"></span>retransmission</span>'
                   f'<span><span style="color:#cf222e;font-weight:700">- - -</span> limit: {lims}</span></div>')
        out.append(render_payload_svg(plot))
    if t.memory:
        base = t.memory[0]
        last = t.memory[-1]
        out.append(f"<h3>Memory over {last.round} rounds <span class=muted>(free after each round; dashed: before "
                   f"the first; heap {base.heap_free:,} → {last.heap_free:,}, pool {base.pool_free} → "
                   f"{last.pool_free} of {base.pool_total}, PCBs {base.pcb_free} → {last.pcb_free} of "
                   f"{base.pcb_total})</span></h3>")
        out.append(render_memory_svg(t.memory))
    if t.sequence is not None and t.sequence[1]:
        subject, events = t.sequence
        out.append(f"<h3>Sequence of {escape(subject)} <span class=muted>(frames in capture order; ✗ cited by a "
                   "failed verdict)</span></h3>")
        out.append(render_sequence_svg(events, subject))
    if t.timeline is not None:
        out.append(_timeline(t, t.timeline))
    out += [f'<p class="note">{escape(n)}</p>' for n in t.notes]
    out.append("</div></details>")
    return "".join(out)


def _timeline(t: TestView, tl: Timeline) -> str:
    table_id = f"{t.anchor}-tl"
    boxes = "".join(
        f'<label><input type="checkbox" checked value="{src}" data-table="{escape(table_id)}" '
        f'onchange="tlFilter(this)"> {label}</label>'
        for src, label in (("uart", "UART"), ("transcript", "server transcript"), ("packet", "packets"),))
    out = [f"<h3>Timeline <span class=muted>({len(tl.rows)} of {tl.total} events; "
           f"0 ms = {_when_ms(tl.t0)})</span></h3>",
           f'<div class="tl-tools">show: {boxes} <span class="muted">UART &gt;&gt; host to device, &lt;&lt; device '
           "to host; c&gt;s client (the device) to server; ✗ = packet cited by a failed verdict</span></div>",
           (f'<p class="note">{escape(t.clock.describe())}; frame numbers are unchanged.</p>' if t.clock else ""),
           (f'<p class="note">{t.causal_moves} packet(s) stamped before the transcript line that wrote them '
            "(the capture's and the servers' clocks differ by microseconds) are shown just after it.</p>"
            if t.causal_moves else ""),
           f'<table class="tl" id="{escape(table_id)}"><colgroup><col style="width:92px"><col style="width:132px">'
           "<col></colgroup>"]
    ids: set[str] = set()
    for r in tl.rows:
        cls = r.source + (" failing" if r.failing else "")
        rid = "" if r.key in ids else f' id="{escape(t.anchor)}-{r.key}"'
        ids.add(r.key)
        mark = "✗ " if r.failing else ""
        out.append(f'<tr class="{cls}"{rid}><td class="ms">{tl.rel_ms(r):.1f}</td>'
                   f'<td class="lab">{mark}{escape(r.label)}</td><td class="txt">{escape(r.text)}</td></tr>')
    out.append("</table>")
    if tl.omitted:
        out.append(f'<p class="note">{tl.omitted} later events not shown; the full data is in the linked files.</p>')
    return "".join(out)


def render_html(m: ReportModel) -> str:
    shown: dict[str, dict[str, float]] = {}  # test anchor -> timeline key -> ms on its timeline
    for t in m.tests:
        tl = t.timeline
        shown[t.anchor] = {} if tl is None else {r.key: tl.rel_ms(r) for r in reversed(tl.rows)}
    tests = "".join(_test(t, shown[t.anchor]) for t in m.tests) or '<p class="muted">No tests recorded.</p>'
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Bench report {escape(m.run_id)}</title>"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<style>{_CSS}</style></head><body><main>"
            + _header(m) + _criteria(m, shown)
            + '<h2 id="tests">Tests<span class="toolbar">'
              '<button onclick="setAll(\'details.test\',true)">expand all</button>'
              '<button onclick="setAll(\'details.test\',false)">collapse all</button></span></h2>'
            + tests + f"</main><script>{_JS}</script></body></html>\n")


def write_html_report(run_dir: Path) -> Path:
    """Render ``run_dir/verdicts.json`` and its artifacts to ``run_dir/report.html``; returns its path."""
    run_dir = Path(run_dir)
    model = build_report(run_dir)
    path = run_dir / "report.html"
    path.write_text(render_html(model), encoding="utf-8")
    return path
