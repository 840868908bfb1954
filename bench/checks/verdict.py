"""Verdicts as data: what a check decided, from which evidence, against which limit.

Checks return these; reporters render them. Nothing here prints.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Outcome(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    #: the evidence needed to judge is missing (e.g. no capture); never a pass
    INCONCLUSIVE = "inconclusive"
    #: a FAIL the target file records as a known deviation ([[waiver]]); never a pass
    WAIVED = "waived"


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: where it lies and what it says.

    ``source`` is ``pcap``, ``transcript``, ``uart`` or ``device``; ``locator``
    points inside the artifact (``packet 17``, ``line 5``); ``packets`` are the
    1-based pcap frame numbers (as Wireshark shows them) behind the decision.
    """

    source: str
    locator: str
    excerpt: str
    artifact: Path | None = None
    packets: tuple[int, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """A measured figure and the limit it is held to (OpenHTF-style)."""

    name: str
    value: float | int | str | None
    limit: float | int | str | None = None
    comparator: str = "<="  # how value relates to limit when it passes: <=, >=, ==
    unit: str = ""

    def passes(self) -> bool:
        if self.limit is None:
            return True
        if self.value is None:
            return False
        if self.comparator == "<=":
            return self.value <= self.limit  # type: ignore[operator]
        if self.comparator == ">=":
            return self.value >= self.limit  # type: ignore[operator]
        if self.comparator == "==":
            return self.value == self.limit
        raise ValueError(f"unknown comparator {self.comparator!r}")


@dataclass(frozen=True)
class Verdict:
    criterion: str  # catalogue ID, e.g. "SMTP-MAIL-3"
    outcome: Outcome
    summary: str
    evidence: tuple[Evidence, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    subject: str = ""  # what was judged, e.g. "connection 10.0.2.15:49153 -> 10.0.2.2:2525"
    #: a cascade: the criterion ID of the root failure this verdict is a consequence of
    #: (None: it stands on its own), and why, e.g. ("SMTP-MAIL-2", "a '.' line sent unstuffed ended DATA")
    follows: str | None = None
    follows_reason: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def is_root(self) -> bool:
        return self.follows is None


def roots_first(verdicts: list[Verdict]) -> list[Verdict]:
    """Root verdicts in their order, then the consequences (each names what it follows from)."""
    return [v for v in verdicts if v.is_root] + [v for v in verdicts if not v.is_root]


def judge(
    criterion: str,
    failures: list[Evidence],
    *,
    ok: str,
    bad: str,
    measurements: tuple[Measurement, ...] = (),
    support: tuple[Evidence, ...] = (),
    subject: str = "",
) -> Verdict:
    """PASS with ``support`` as evidence when ``failures`` is empty, else FAIL citing them."""
    if failures:
        return Verdict(criterion, Outcome.FAIL, bad, tuple(failures), measurements, subject)
    return Verdict(criterion, Outcome.PASS, ok, support, measurements, subject)


def inconclusive(criterion: str, why: str, subject: str = "") -> Verdict:
    return Verdict(criterion, Outcome.INCONCLUSIVE, why, (), (), subject)


@dataclass
class VerdictLog:
    """Verdicts collected during one test, in order."""

    verdicts: list[Verdict] = field(default_factory=list)

    def add(self, *verdicts: Verdict) -> None:
        self.verdicts.extend(verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome is not Outcome.PASS]
