"""Which function judges which criterion of REQUIREMENTS.md.

A workload lists the criteria it exercises; ``judge_run`` runs exactly those
checks on its evidence. A criterion with no check here is an error, not a pass.
"""
from __future__ import annotations

from collections.abc import Callable

from bench.checks import (
    address,
    device,
    fault_evidence,
    pop3,
    real_servers,
    smtp,
    smtp_message,
    split_replies,
    timeouts,
    wirechecks,
)
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
    "SMTP-MAIL-2": smtp_message.smtp_mail_2,
    "SMTP-MAIL-3": wirechecks.CHECKS["SMTP-MAIL-3"],
    "SMTP-CONN-1": _both(smtp.smtp_conn_1, wirechecks.CHECKS["SMTP-CONN-1"], address.source_address("SMTP-CONN-1", "smtp"),
                         timeouts.stall_timeouts("SMTP-CONN-1")),
    "SMTP-EHLO-1": smtp.smtp_ehlo_1,
    "SMTP-EHLO-2": smtp.smtp_ehlo_2,
    "SMTP-AUTH-1": smtp.smtp_auth_1,
    "SMTP-AUTH-2": smtp.smtp_auth_2,
    "SMTP-AUTH-3": smtp.smtp_auth_3,
    "SMTP-AUTH-4": smtp.smtp_auth_4,
    "SMTP-ERR-1": _both(smtp.smtp_err_1, wirechecks.PARTS["SMTP-ERR-1"]),
    "POP-CONN-1": _both(pop3.pop_conn_1, address.source_address("POP-CONN-1", "pop3")),
    "POP-AUTH-1": pop3.pop_auth_1,
    "POP-AUTH-2": pop3.pop_auth_2,
    "POP-AUTH-3": pop3.pop_auth_3,
    "POP-AUTH-4": pop3.pop_auth_4,
    "POP-AUTH-5": pop3.pop_auth_5,
    "POP-TRANS-1": pop3.pop_trans_1,
    "POP-TRANS-2": pop3.pop_trans_2,
    "POP-TRANS-3": pop3.pop_trans_3,
    "POP-TRANS-4": _both(pop3.pop_trans_4, wirechecks.PARTS["POP-TRANS-4"]),
    "POP-TRANS-5": pop3.pop_trans_5,
    "POP-WIRE-3": split_replies.pop_wire_3,
    "DEV-ROB-1": _both(device.dev_rob_1, timeouts.stall_timeouts("DEV-ROB-1")),
    "DEV-ROB-2": device.dev_rob_2,
}


#: a verdict about a fault passes only when the fault is shown to have happened
CHECKS = fault_evidence.guarded(CHECKS)
#: against a real server, a close it made itself right after QUIT's reply is not held against the client
CHECKS = real_servers.judged_on_real_servers(CHECKS)


def judge_run(evidence: RunEvidence) -> list[Verdict]:
    """The checks of the criteria the workload lists, then DEV-ROB-1/2 where the device
    evidence calls for them though the workload did not list them (bench.checks.device)."""
    ctx = CheckContext(evidence)
    verdicts: list[Verdict] = []
    for criterion in evidence.workload.criteria:
        check = CHECKS.get(criterion)
        if check is None:
            raise KeyError(f"no check judges {criterion}; known: {', '.join(sorted(CHECKS))}")
        verdicts.extend(check(ctx))
    for extra in device.device_checks_for(evidence):
        verdicts.extend(extra(ctx))
    return verdicts
