"""Known deviations a team records in its target file (``bench.checks.waivers``
applies them to a run's verdicts).

    [[waiver]]
    criterion = "POP-AUTH-5"              # a catalogue ID; an unknown one is a config error
    test = "test_bad_password_refused"    # optional: only this test (function name or node id)
    reason = "-ERR to PASS is returned as NX_SUCCESS"
    reference = "netxduo bd5d12e9 addons/pop3/nxd_pop3_client.c:3249-3292"

A FAIL the waiver covers becomes WAIVED: never a pass, counted apart in the
console and the report, and the test is a JUnit skip naming the reason. A
waiver only excuses a measured deviation: an INCONCLUSIVE verdict (missing
evidence) stays what it is. After the run every waiver gets a status, so
waiver lists do not rot: ``needed``, ``no longer needed`` (its criterion
passed), ``not judged`` (only inconclusive verdicts) or ``not exercised``.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Waiver(BaseModel):
    """One ``[[waiver]]`` table (strict like every target-file section)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    criterion: str
    reason: str = Field(min_length=1)
    reference: str = Field(min_length=1)  # an issue URL, a source file:line
    test: str = ""

    @field_validator("criterion")
    @classmethod
    def _in_catalogue(cls, v: str) -> str:
        from bench.config.catalogue import load_catalogue  # the catalogue module reads target.py

        cat = load_catalogue()
        if v not in cat.ids:
            raise ValueError(f"unknown criterion {v!r}: not in {cat.path.name} version {cat.version}")
        return v

    def covers(self, criterion: str, nodeid: str) -> bool:
        return criterion == self.criterion and (not self.test or test_matches(self.test, nodeid))

    def describe(self) -> str:
        scope = f" in {self.test}" if self.test else ""
        return f"{self.criterion}{scope}: {self.reason} ({self.reference})"


def test_matches(test: str, nodeid: str) -> bool:
    """``test`` names a test by node id, function name, or function name with parameters."""
    name = nodeid.split("::")[-1]
    return test in (nodeid, name, name.split("[", 1)[0]) or nodeid.endswith("::" + test)
