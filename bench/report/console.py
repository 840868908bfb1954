"""Plain-text verdict table for the terminal and CI logs."""
from __future__ import annotations

from collections import defaultdict

from bench.checks.verdict import Outcome
from bench.report.store import RunRecord


def render_summary(record: RunRecord) -> list[str]:
    by_criterion: dict[str, list[tuple[str, Outcome, str]]] = defaultdict(list)
    for test in record.tests:
        for v in test.verdicts:
            by_criterion[v.criterion].append((test.nodeid, v.outcome, v.summary))
    lines = []
    for criterion in sorted(by_criterion):
        rows = by_criterion[criterion]
        worst = next((o for o in (Outcome.FAIL, Outcome.INCONCLUSIVE) if any(r[1] is o for r in rows)), Outcome.PASS)
        lines.append(f"{worst.value.upper():12} {criterion:12} {len(rows):3} verdicts")
        for nodeid, outcome, summary in rows:
            if outcome is not Outcome.PASS:
                lines.append(f"{'':12} - {nodeid.split('::')[-1]}: {summary}")
    lines.append(f"artifacts: {record.directory}")
    return lines
