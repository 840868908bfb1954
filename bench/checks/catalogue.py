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

CHECKS: dict[str, Check] = {
    "SMTP-MAIL-1": smtp.smtp_mail_1,
    "SMTP-MAIL-2": smtp.smtp_mail_2,
    **wirechecks.CHECKS,
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
