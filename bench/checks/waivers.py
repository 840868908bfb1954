"""Waivers applied to a run: a covered FAIL becomes WAIVED, and after the run each
waiver of the target file gets a status (``bench.config.waivers`` says what a
waiver is)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bench.checks.verdict import Evidence, Outcome, Verdict
from bench.config.waivers import Waiver

Status = Literal["needed", "no longer needed", "not judged", "not exercised"]


def waive(verdicts: Iterable[Verdict], waivers: Sequence[Waiver], nodeid: str) -> list[Verdict]:
    """Every FAIL a waiver covers, as WAIVED: the waiver first in its evidence, the rest kept."""
    out = []
    for v in verdicts:
        w = next((w for w in waivers if w.covers(v.criterion, nodeid)), None) if v.outcome is Outcome.FAIL else None
        if w is None:
            out.append(v)
            continue
        note = Evidence("waiver", f"[[waiver]] {waivers.index(w)}", f"{w.reason} ({w.reference})")
        out.append(replace(v, outcome=Outcome.WAIVED, summary=f"waived, {w.reason}: {v.summary}",
                           evidence=(note, *v.evidence)))
    return out


def skip_reason(waived: Iterable[Verdict]) -> str:
    """The JUnit skip message of a test whose only non-passing verdicts are waived."""
    seen: dict[str, str] = {}
    for v in waived:
        note = next((e for e in v.evidence if e.source == "waiver"), None)
        seen.setdefault(v.criterion, note.excerpt if note else v.summary)
    return "waived: " + "; ".join(f"{c}: {why}" for c, why in seen.items())


@dataclass(frozen=True)
class WaiverStatus:
    waiver: Waiver
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():16} {self.waiver.describe()}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {**self.waiver.model_dump(), "status": self.status, "detail": self.detail}


def waiver_status(waivers: Sequence[Waiver], tests: Iterable[tuple[str, Sequence[Verdict]]]) -> list[WaiverStatus]:
    """What the run made of each waiver; ``tests`` are (node id, verdicts) pairs."""
    tests = list(tests)
    out = []
    for w in waivers:
        got = [v.outcome for nodeid, vs in tests for v in vs if w.covers(v.criterion, nodeid)]
        n = len(got)
        if Outcome.WAIVED in got or Outcome.FAIL in got:
            bad = got.count(Outcome.WAIVED) + got.count(Outcome.FAIL)
            out.append(WaiverStatus(w, "needed", f"{bad} of {n} verdicts failed, waived"))
        elif got and all(o is Outcome.PASS for o in got):
            out.append(WaiverStatus(w, "no longer needed", f"{w.criterion} passed in all {n} verdicts: remove the waiver"))
        elif got:
            out.append(WaiverStatus(w, "not judged", f"{got.count(Outcome.INCONCLUSIVE)} of {n} verdicts inconclusive, none failed"))
        else:
            out.append(WaiverStatus(w, "not exercised", "no test of this run judged it"))
    return out
