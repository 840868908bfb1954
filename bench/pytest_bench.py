"""The ``bench`` object an acceptance test holds: run a workload, judge it by the test's criteria, explain failures."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from bench.checks.verdict import Outcome, Verdict, roots_first
from bench.report.store import TestRecord

if TYPE_CHECKING:  # the plugin loads in every pytest run: keep its imports light
    from bench.agent.device import Device
    from bench.session import BenchSession
    from bench.workload.evidence import RunEvidence
    from bench.workload.model import Workload


@dataclass
class Bench:
    """What an acceptance test holds: run a workload on the device, judge it, assert."""

    session: BenchSession
    test: TestRecord

    @property
    def device(self) -> Device:
        return self.session.healthy_device()

    def run(self, workload: Workload) -> tuple[RunEvidence, list[Verdict]]:
        """Run the workload and judge it by the test's criteria (its ``criterion`` markers)."""
        from bench.checks.waivers import waive
        from bench.workload.capabilities import NotApplicable

        if workload.family == 6 and not _host_ipv6():
            pytest.skip("this host has no IPv6 (::1 cannot be bound): IPv6 workloads skipped, IPv4 ones run")
        if workload.family == 6 and not self.session.config.network.server_ip6:
            pytest.skip(f"target {self.session.config.name} has no IPv6 server address ([network] server_ip6): "
                        "IPv6 workloads skipped")
        if workload.criteria:
            pytest.fail(f"workload {workload.name!r} lists criteria of its own; declare them once, "
                        "in the test's @pytest.mark.criterion(...)", pytrace=False)
        if not self.test.criteria:
            pytest.fail("no @pytest.mark.criterion(...) on this test: nothing to judge its workload by", pytrace=False)
        workload = dataclasses.replace(workload, criteria=self.test.criteria)
        try:
            evidence, verdicts = self.session.run(workload, self.test.dirname)
        except NotApplicable as e:  # the device lacks an optional verb: not judged, not failed
            pytest.skip(str(e))
        verdicts = waive(verdicts, self.session.config.waiver, self.test.nodeid)
        self.test.add_run(evidence, verdicts)
        return evidence, verdicts

    def check(self, workload: Workload) -> RunEvidence:
        """Run and judge; fail the test with every non-passing verdict and its evidence.

        A test whose only non-passing verdicts are waived is skipped with the waivers' reasons."""
        evidence, verdicts = self.run(workload)
        failed = [v for v in verdicts if v.outcome not in (Outcome.PASS, Outcome.WAIVED)]
        if failed:
            from bench.report.redact import redact

            pytest.fail(redact(explain(failed), self.test.secrets), pytrace=False)  # console and pytest's JUnit
        waived = [v for v in verdicts if v.outcome is Outcome.WAIVED]
        if waived:
            from bench.checks.waivers import skip_reason

            pytest.skip(skip_reason(waived))
        return evidence


@functools.cache
def _host_ipv6() -> bool:
    from bench.servers.base import host_has_ipv6

    return host_has_ipv6()


def explain(failed: list[Verdict]) -> str:
    """Root failures first, then their consequences (each naming the verdict it follows from):
    one line per failed criterion (what a CI tool's failure message shows), then each one's details."""
    from bench.report.junit import relative

    failed = roots_first(failed)

    def follows(v: Verdict) -> str:
        return f" -- follows from {v.follows}: {v.follows_reason}" if v.follows else ""

    out = [f"[{v.criterion}] {v.outcome.value.upper()}: {v.summary}{follows(v)}" for v in failed]
    if len(failed) > 1:
        out.append("")
    for v in failed:
        out.append(f"[{v.criterion}] {v.outcome.value.upper()}: {v.summary} ({v.subject}){follows(v)}")
        for m in v.measurements:
            allowed = "" if m.limit is None else f" (allowed {m.comparator} {m.limit} {m.unit}".rstrip() + ")"
            out.append(f"    measured {m.name} = {m.value}{allowed}")
        for e in v.evidence[:5]:
            where = f" in {relative(e.artifact)}" if e.artifact else ""
            out.append(f"    {e.source} {e.locator}{where}: {e.excerpt}")
    return "\n".join(out)
