"""What the HTML report shows, as data: built from ``verdicts.json`` and the artifacts.

``build_report(run_dir)`` does all the reading; ``bench.report.html`` only
renders the ``ReportModel`` it returns.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.capture.tcpflow import Connection
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict
from bench.report.artifacts import Capture, read_capture, read_transcript, read_uart_log
from bench.report.clock import ClockAlignment, align_capture, causal_order
from bench.report.criteria import Catalogue, Criterion, load_catalogue
from bench.report.diagrams import MemorySample, SeqEvent, memory_trace, sequence
from bench.report.links import Link, Linker
from bench.report.plot import Limit, PayloadPlot, build_payload_plot
from bench.report.store import TestRecord  # its dirname rule names the test directory
from bench.report.timeline import Timeline, build_timeline, evidence_keys

TIMELINE_ROWS = 2000  # per test
TIMELINE_BUDGET = 20000  # per report; tests past it get SMALL_TIMELINE rows
SMALL_TIMELINE = 200
MIN_MEMORY_SAMPLES = 5  # sys.info answers in one test before its memory is plotted
_SEVERITY = {Outcome.FAIL: 0, Outcome.INCONCLUSIVE: 1, Outcome.WAIVED: 2, Outcome.PASS: 3}
PAYLOAD_CRITERIA = {"POP-WIRE-2": "pop3", "SMTP-MAIL-3": "smtp"}


def verdict_from_dict(d: dict[str, Any]) -> Verdict:
    """The inverse of ``store.verdict_to_dict``."""
    return Verdict(
        criterion=d["criterion"],
        outcome=Outcome(d["outcome"]),
        summary=d.get("summary", ""),
        subject=d.get("subject", ""),
        follows=d.get("follows"),
        follows_reason=d.get("follows_reason", ""),
        measurements=tuple(Measurement(m["name"], m.get("value"), m.get("limit"), m.get("comparator", "<="),
                                       m.get("unit", "")) for m in d.get("measurements", [])),
        evidence=tuple(Evidence(e.get("source", ""), e.get("locator", ""), e.get("excerpt", ""),
                                Path(e["artifact"]) if e.get("artifact") else None,
                                tuple(e.get("packets", ()))) for e in d.get("evidence", [])),
    )


def worst(outcomes: list[Outcome]) -> Outcome | None:
    return min(outcomes, key=_SEVERITY.__getitem__) if outcomes else None


@dataclass
class VerdictView:
    verdict: Verdict
    test: TestView
    number: int  # position in the test, from 1 (anchors)
    evidence_links: list[Link | None] = field(default_factory=list)  # one per evidence item
    evidence_keys: list[list[str]] = field(default_factory=list)  # one per evidence item: timeline rows it cites

    @property
    def anchor(self) -> str:
        return f"{self.test.anchor}-v{self.number}"


@dataclass
class CriterionRow:
    criterion: Criterion
    verdicts: list[VerdictView] = field(default_factory=list)
    in_catalogue: bool = True

    @property
    def worst(self) -> Outcome | None:
        return worst([v.verdict.outcome for v in self.verdicts])

    @property
    def counts(self) -> Counter[Outcome]:
        return Counter(v.verdict.outcome for v in self.verdicts)

    @property
    def tests(self) -> list[TestView]:
        return list(dict.fromkeys(v.test for v in self.verdicts))


@dataclass(eq=False)
class TestView:
    nodeid: str
    dirname: str
    anchor: str
    outcome: str
    duration: float
    error: str
    criteria: tuple[str, ...]
    verdicts: list[VerdictView] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None  # t_start..t_end over its workload runs
    timeline: Timeline | None = None
    plots: list[tuple[str, PayloadPlot]] = field(default_factory=list)  # per protocol: "POP3", "SMTP"
    clock: ClockAlignment | None = None  # set when packet times were moved onto the host clock
    causal_moves: int = 0  # packets put after the transcript line that wrote them
    memory: list[MemorySample] = field(default_factory=list)  # sys.info answers over a soak's rounds
    sequence: tuple[str, list[SeqEvent]] | None = None  # a failed verdict's connection as a sequence diagram
    notes: list[str] = field(default_factory=list)  # artifacts that could not be read, caps applied

    @property
    def cited_keys(self) -> frozenset[str]:
        """Timeline keys (``TimelineRow.key``) of the packets and lines that failed verdicts cite."""
        return frozenset(k for v in self.verdicts if v.verdict.outcome is Outcome.FAIL
                         for keys in v.evidence_keys for k in keys)

    @property
    def worst(self) -> Outcome | None:
        return worst([v.verdict.outcome for v in self.verdicts])

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")

    @property
    def focus(self) -> int:
        """Sort key: failed tests first, then those with a non-passing verdict, then the rest."""
        if self.failed:
            return 0
        return 1 if any(v.verdict.outcome in (Outcome.FAIL, Outcome.INCONCLUSIVE) for v in self.verdicts) else 2


@dataclass
class ReportModel:
    run_id: str
    target: str
    run_dir: Path
    started: float
    finished: float
    device: dict[str, Any] | None
    boots: list[dict[str, Any]]
    criteria: list[CriterionRow]
    tests: list[TestView]
    links: list[Link]
    catalogue: Catalogue
    notes: list[str] = field(default_factory=list)
    judged: dict[str, Any] = field(default_factory=dict)  # bench.report.identity.judged
    boot_failure: str = ""  # why the board never booted ("" when it did)

    @property
    def never_booted(self) -> bool:
        return bool(self.boot_failure) or (not self.boots and self.device is None)

    @property
    def failed_tests(self) -> list[TestView]:
        return [t for t in self.tests if t.failed]

    @property
    def verdict_totals(self) -> Counter[Outcome]:
        return Counter(v.verdict.outcome for t in self.tests for v in t.verdicts)

    @property
    def test_totals(self) -> Counter[str]:
        return Counter(t.outcome for t in self.tests)

    @property
    def not_exercised(self) -> list[CriterionRow]:
        return [c for c in self.criteria if not c.verdicts]


def _anchor(i: int, dirname: str) -> str:
    return f"test-{i}-{dirname}"[:80]


def _limit_for(verdicts: list[Verdict], device: dict[str, Any] | None) -> Any:
    """Per connection: the payload limit its POP-WIRE-2/SMTP-MAIL-3 verdict held it to, else the declared one."""
    by_subject: dict[str, Limit] = {}
    for v in verdicts:
        if v.criterion in PAYLOAD_CRITERIA:
            for m in v.measurements:
                if m.name == "largest client segment payload" and isinstance(m.limit, (int, float)):
                    by_subject[v.subject] = Limit(int(m.limit), f"{v.criterion} verdict")
    declared = (device or {}).get("limits") or {}

    def limit_for(conn: Connection) -> Limit | None:
        if conn.subject in by_subject:
            return by_subject[conn.subject]
        proto = _protocol(conn)
        key = f"{proto}_payload" if proto else None
        if key and isinstance(declared.get(key), int):
            return Limit(declared[key], f"declared {key}")
        return None

    return limit_for


def _protocol(conn: Connection) -> str | None:
    """``pop3`` or ``smtp`` from the server's first bytes, else from well-known ports."""
    head = conn.s2c.stream[:4]
    if head.startswith((b"+OK", b"-ERR")):
        return "pop3"
    if len(head) >= 3 and head[:3].isdigit():
        return "smtp"
    port = conn.server[1]
    return "pop3" if port in (110, 995) else "smtp" if port in (25, 465, 587, 2525) else None


def _kind(path: Path) -> str:
    """A link label naming what the file is."""
    if path.suffix == ".pcapng":
        return f"annotated capture ({path.name})"
    if path.suffix == ".pcap":
        return f"capture ({path.name})"
    if path.name.endswith("-transcript.txt"):
        return f"{path.name.split('-transcript')[0].upper()} transcript ({path.name})"
    return f"UART log ({path.name})" if path.suffix == ".log" else path.name


def _artifact_files(arts: list[dict[str, Any]], test_dir: Path,
                    linker: Linker) -> tuple[list[Path], list[Path], list[Path]]:
    """The test's captures, UART logs and transcripts that exist, each once: those the record names,
    plus what lies in its directories (several workload runs of a test share one, and the annotated
    pcapng is not in the record)."""
    pcaps: list[Any] = []
    uarts: list[Any] = []
    transcripts: list[Any] = []
    bases = [test_dir] if test_dir.is_dir() else []
    for a in arts:
        pcaps += [a.get("pcap"), a.get("annotated_pcap")]
        uarts.append(a.get("uart_log"))
        transcripts += a.get("transcripts", [])
        recorded = a.get("directory")
        if recorded:
            base = linker.locate_dir(recorded)
            if base is not None and base not in bases:
                bases.append(base)
    for base in bases:
        pcaps += [base / "wire.pcap", *sorted(base.glob("*.pcapng"))]
        uarts.append(base / "uart.log")
        transcripts += sorted(base.glob("*-transcript.txt"))
    seen: set[Path] = set()

    def found(paths: list[Any]) -> list[Path]:
        out = []
        for p in paths:
            loc = linker.locate(p)
            if loc is not None and loc.resolve() not in seen:
                seen.add(loc.resolve())
                out.append(loc)
        return out

    return found(pcaps), found(uarts), found(transcripts)


def _test_view(i: int, d: dict[str, Any], linker: Linker, device: dict[str, Any] | None,
               timeline_rows: int) -> TestView:
    """One test; its timeline and plots only when it failed or has a non-passing verdict."""
    nodeid = d.get("nodeid", f"test {i}")
    dirname = TestRecord(nodeid).dirname
    t = TestView(nodeid, dirname, _anchor(i, dirname), d.get("outcome", "not run"), float(d.get("duration", 0.0)),
                 d.get("error", ""), tuple(d.get("criteria", ())))
    for n, vd in enumerate(d.get("verdicts", []), 1):
        v = verdict_from_dict(vd)
        t.verdicts.append(VerdictView(v, t, n, [linker.link(e.artifact) for e in v.evidence]))
    detailed = t.focus < 2
    arts: list[dict[str, Any]] = d.get("artifacts", [])
    t.workloads = [a.get("workload", "") for a in arts]
    starts = [a["t_start"] for a in arts if a.get("t_start")]
    ends = [a["t_end"] for a in arts if a.get("t_end")]
    if starts and ends:
        t.window = (min(starts), max(ends))
    pcap_files, uart_files, transcript_files = _artifact_files(arts, linker.run_dir / dirname, linker)
    for p in pcap_files + uart_files + transcript_files:
        link = linker.link(p, _kind(p))
        if link:
            t.links.append(link)
    uart_lines = []
    for p in uart_files:
        parsed = read_uart_log(p)
        uart_lines += parsed.records
        _note(t, parsed.path, parsed.error, parsed.skipped)
    samples = memory_trace(uart_lines)
    if len(samples) >= MIN_MEMORY_SAMPLES:  # a soak: memory over its rounds, passing or not
        t.memory = samples
    if not detailed:  # a passing test: its files hold everything; the page stays small
        return t
    # the timeline and plot read the plain capture (the annotated pcapng holds the same frames)
    plain = [p for p in pcap_files if p.suffix == ".pcap"] or pcap_files[:1]
    capture = read_capture(plain[0]) if plain else None
    entries = []
    for p in transcript_files:
        tr = read_transcript(p)
        entries += tr.records
        _note(t, tr.path, tr.error, tr.skipped)
    if capture is not None and capture.error:
        t.notes.append(f"{capture.path.name}: {capture.error}")
    packets = capture.packets if capture else []
    device_lines = sorted(u.t for u in uart_lines if u.direction == "dev")
    for v in t.verdicts:
        v.evidence_keys = [evidence_keys(e, device_lines) for e in v.verdict.evidence]
    if capture is not None and packets and entries:
        t.clock = align_capture(capture.connections, entries, _protocol)
        if t.clock is not None:
            packets = t.clock.shift(packets)
        packets, t.causal_moves = causal_order(packets, capture.connections, entries, _protocol)
    if uart_lines or entries or packets:
        t.timeline = build_timeline(uart_lines, entries, packets, t.cited_keys, timeline_rows)
        if t.timeline.omitted:
            t.notes.append(f"timeline: {t.timeline.omitted} of {t.timeline.total} events not shown "
                           f"(first {timeline_rows} rows and failing packets kept)")
    if capture is not None and capture.connections:
        t.plots = _plots(capture, [v.verdict for v in t.verdicts], device)
        t.sequence = _sequence(capture.connections, [v.verdict for v in t.verdicts])
        for name, plot in t.plots:
            if plot.total > len(plot.points):
                t.notes.append(f"{name} plot: {len(plot.points)} of {plot.total} segments drawn "
                               "(thinned evenly; every segment above its limit kept)")
    return t


def _sequence(connections: list[Connection], verdicts: list[Verdict]) -> tuple[str, list[SeqEvent]] | None:
    """The connection a failed verdict names (by subject or a cited frame), else the first one."""
    failed = [v for v in verdicts if v.outcome is Outcome.FAIL]
    cited = frozenset(p for v in failed for e in v.evidence for p in e.packets)
    subjects = {v.subject for v in failed}

    def frames(c: Connection) -> set[int]:
        return {s.index for s in (*c.c2s.segments, *c.s2c.segments)}

    chosen = next((c for c in connections if c.subject in subjects), None) or \
        next((c for c in connections if frames(c) & cited), None) or (connections[0] if connections else None)
    if chosen is None:
        return None
    return chosen.subject, sequence(chosen, cited)


def _plots(capture: Capture, verdicts: list[Verdict], device: dict[str, Any] | None) -> list[tuple[str, PayloadPlot]]:
    """One plot per protocol (their limits differ by an order of magnitude), POP3 first."""
    limit_for = _limit_for(verdicts, device)
    groups: dict[str, list[Connection]] = {}
    for conn in capture.connections:
        groups.setdefault((_protocol(conn) or "other").upper(), []).append(conn)
    out = []
    for name in sorted(groups, key=lambda n: ("POP3", "SMTP").index(n) if n in ("POP3", "SMTP") else 2):
        plot = build_payload_plot(groups[name], limit_for)
        if plot.points:
            out.append((name, plot))
    return out


def _note(t: TestView, path: Path, error: str, skipped: int) -> None:
    if error:
        t.notes.append(f"{path.name}: {error}")
    if skipped:
        t.notes.append(f"{path.name}: {skipped} line(s) not in the expected format, left out of the timeline")


def build_report(run_dir: Path, requirements: Path | None = None) -> ReportModel:
    """Read ``verdicts.json`` and every artifact it names into a ``ReportModel``."""
    run_dir = Path(run_dir).resolve()
    data: dict[str, Any] = json.loads((run_dir / "verdicts.json").read_text(encoding="utf-8"))
    linker = Linker(run_dir, data.get("directory"))
    device = data.get("device")
    tests: list[TestView] = []
    budget = TIMELINE_BUDGET
    for i, td in enumerate(data.get("tests", []), 1):
        rows = TIMELINE_ROWS if budget >= TIMELINE_ROWS else SMALL_TIMELINE
        t = _test_view(i, td, linker, device, rows)
        budget -= len(t.timeline.rows) if t.timeline else 0
        tests.append(t)
    tests.sort(key=lambda t: t.focus)  # stable: in run order within each group
    catalogue = load_catalogue(requirements)
    rows = {c.id: CriterionRow(c) for c in catalogue.criteria}
    for t in tests:
        for v in t.verdicts:
            cid = v.verdict.criterion
            if cid not in rows:
                rows[cid] = CriterionRow(Criterion(cid, "Not in the catalogue", ""), in_catalogue=False)
            rows[cid].verdicts.append(v)
    links = [lk for lk in (linker.link(run_dir / name) for name in
                           ("verdicts.json", "junit.xml", "uart-session.log")) if lk]
    return ReportModel(
        run_id=data.get("run_id", run_dir.name), target=data.get("target", ""), run_dir=run_dir,
        started=float(data.get("started") or 0.0), finished=float(data.get("finished") or 0.0),
        device=device, boots=list(data.get("boots", [])), criteria=list(rows.values()), tests=tests,
        links=links, catalogue=catalogue, judged=dict(data.get("judged") or {}),
        boot_failure=str(data.get("boot_failure") or ""),
    )
