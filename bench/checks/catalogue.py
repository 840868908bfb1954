"""Which function judges which criterion of REQUIREMENTS.md.

A workload lists the criteria it exercises; ``judge_run`` runs exactly those
checks on its evidence. A criterion with no check here is an error, not a pass.
"""
from __future__ import annotations

from collections.abc import Callable

from bench.checks import smtp, wirechecks
from bench.checks.context import CheckContext
from bench.checks.verdict import Verdict
from bench.workload.evidence import RunEvidence

Check = Callable[[CheckContext], list[Verdict]]

def _both(*checks: Check) -> Check:
    """A criterion judged from several kinds of evidence: every part must pass."""

    def check(ctx: CheckContext) -> list[Verdict]:
        return [v for c in checks for v in c(ctx)]

    return check


CHECKS: dict[str, Check] = {
    **wirechecks.CHECKS,
    "SMTP-MAIL-1": _both(smtp.smtp_mail_1, wirechecks.CHECKS["SMTP-MAIL-1"]),
    "SMTP-MAIL-2": smtp.smtp_mail_2,
}


def judge_run(evidence: RunEvidence) -> list[Verdict]:
    ctx = CheckContext(evidence)
    verdicts: list[Verdict] = []
    for criterion in evidence.workload.criteria:
        check = CHECKS.get(criterion)
        if check is None:
            raise KeyError(f"no check judges {criterion}; known: {', '.join(sorted(CHECKS))}")
        verdicts.extend(check(ctx))
    return verdicts
