"""Plain-text verdict table for the terminal and CI logs."""
from __future__ import annotations

from collections import defaultdict

from bench.checks.verdict import Outcome, Verdict
from bench.report.store import RunRecord


def render_summary(record: RunRecord) -> list[str]:
    """One line per criterion: criteria with root failures first, then those whose failures
    all follow from another verdict (each row says from which), then the rest (passed, waived)."""
    by_criterion: dict[str, list[tuple[str, Verdict]]] = defaultdict(list)
    for test in record.tests:
        for v in test.verdicts:
            by_criterion[v.criterion].append((test.nodeid, v))

    def rank(criterion: str) -> tuple[int, str]:
        bad = [v for _, v in by_criterion[criterion] if v.outcome in (Outcome.FAIL, Outcome.INCONCLUSIVE)]
        return (0 if any(v.is_root for v in bad) else 1 if bad else 2), criterion

    lines = []
    for criterion in sorted(by_criterion, key=rank):
        rows = by_criterion[criterion]
        worst = next((o for o in (Outcome.FAIL, Outcome.INCONCLUSIVE, Outcome.WAIVED) if any(v.outcome is o for _, v in rows)),
                     Outcome.PASS)
        lines.append(f"{worst.value.upper():12} {criterion:12} {len(rows):3} verdicts")
        bad = [(n, v) for n, v in rows if v.outcome is not Outcome.PASS]
        for nodeid, v in sorted(bad, key=lambda r: not r[1].is_root):
            follows = f" (follows from {v.follows}: {v.follows_reason})" if v.follows else ""
            lines.append(f"{'':12} - {nodeid.split('::')[-1]}: {v.summary}{follows}")
    unjudged = [t for t in record.tests if t.outcome == "skipped" and not t.verdicts]
    if unjudged:  # a workload the device could not run (an optional verb it does not declare)
        lines.append(f"not judged on this device ({len(unjudged)} tests):")
        lines += [f"  {t.nodeid.split('::')[-1]}: {t.error.removeprefix('Skipped: ')}" for t in unjudged]
    waivers = record.waiver_status()
    if waivers:  # apart from the table: a waived criterion is not a pass
        waived = sum(v.outcome is Outcome.WAIVED for t in record.tests for v in t.verdicts)
        lines.append(f"waivers ({len(waivers)} in the target file, {waived} verdicts waived, none counted as a pass):")
        lines += [f"  {s.line()}" for s in waivers]
    lines += render_judged(record)
    lines.append(f"artifacts: {record.directory}")
    return lines


def render_judged(record: RunRecord) -> list[str]:
    """What the run judged (image, build, target file, catalogue), and a board that never booted."""
    out = [f"THE BOARD NEVER BOOTED: {record.boot_failure.splitlines()[0]}"] if record.boot_failure else []
    j = record.judged
    image = j.get("image") or {}
    if image:
        manifest = image.get("manifest") or {}
        build = (f" ({manifest['compiler']}, lwIP {manifest.get('lwip', '?')})" if manifest.get("compiler")
                 else " (not in firmware_images/manifest.json)")
        out.append(f"judged: {image.get('path')} sha256 {image.get('sha256', 'missing')}{build}; "
                   f"target {j.get('target', {}).get('file', '?')}; catalogue version "
                   f"{j.get('catalogue', {}).get('version', '?')}")
    return out


def render_timing(record: RunRecord) -> list[str]:
    """Suite wall time, boots, and what each test costs beyond its own workload."""
    # a run cut short (a signal, a board that never booted) leaves workloads without an end, boots without a banner
    tests = [t for t in record.tests if t.artifacts and all(a.get("t_end") and a.get("t_start") for a in t.artifacts)]
    if not tests:
        return []
    wall = (record.finished or max(a["t_end"] for t in tests for a in t.artifacts)) - record.started
    spans = [sum(a["t_end"] - a["t_start"] for a in t.artifacts) for t in tests]
    overhead = [t.duration - s for t, s in zip(tests, spans)]
    boots = ", ".join(f"{(b.banner - b.started) * 1000:.0f} ms ({b.reason})" if getattr(b, "banner", None)
                      else f"no banner ({b.reason})" for b in record.boots) or "none"
    return [
        f"suite: {len(record.tests)} tests in {wall:.1f} s wall; board boots to banner: {boots}",
        f"per test: {sum(t.duration for t in tests) / len(tests):.3f} s mean, of which workload "
        f"{sum(spans) / len(tests):.3f} s and bench overhead (checks, reports) {sum(overhead) / len(tests):.3f} s",
    ]
