"""A stall past the timeout, judged against the timeouts the device declares.

DEV-ROB-1 ("a stall past the timeout gives the application a clear error") and
SMTP-CONN-1 ("... or after its timeout when none comes") rest on the device's
own timeout: ``connect_ms``, ``reply_ms`` or ``msg_ms`` from its banner, or the
request's ``timeout_ms`` when it declares ``timeout-arg`` (docs/agent-protocol.md).
When a server stalls, the request pending at that moment must end in the
device's own ``err code=timeout`` within that wait plus the protocol's 1 s,
never by the bench's own guess. The stalling server closes a second after the
declared wait: a device that only reports that close (``code=closed``) never
timed out, whatever it declared.
"""
from __future__ import annotations

from collections.abc import Callable

from bench.agent.device import CLOCK_SLACK, OpResult
from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Measurement, Verdict, judge

PROTOCOL_GRACE_S = 1.0  # "finishes within the device's timeout plus 1 s"
HOST_MARGIN_S = 0.5  # the UART line and the host's scheduling, between the device's reply and t_end


def _wait_kind(protocol: str, event: str) -> str:
    if event == "connect":
        return "connect_ms"
    return "msg_ms" if protocol == "smtp" and event in ("message", "body") else "reply_ms"


def _pending(ops: list[OpResult], t: float) -> OpResult | None:
    """The request the device was busy with at ``t``."""
    return next((op for op in ops if op.t_start <= t <= op.t_end), None)


def stall_timeouts(criterion: str) -> Callable[[CheckContext], list[Verdict]]:
    def check(ctx: CheckContext) -> list[Verdict]:
        run = ctx.run
        ops = [op for sr in run.steps for op in sr.ops]
        out = []
        for protocol in ("pop3", "smtp"):
            transcript = getattr(run, protocol)
            for hit in (transcript.hits if transcript is not None else []):
                op = _pending(ops, hit.t) if hit.action == "stall" else None
                if op is None:
                    continue
                kind = _wait_kind(protocol, hit.event)
                wait_ms = run.device.wait_ms(kind, run.workload.timeout_ms)
                # the device's clock may run behind the host's (an emulated board under load)
                allowed = wait_ms / 1000 * (1 + CLOCK_SLACK) + PROTOCOL_GRACE_S + HOST_MARGIN_S
                took = op.t_end - hit.t
                why = f"{'timeout_ms' if run.device.timeout_arg else kind} {wait_ms} ms"
                failures = []
                if op.ok:
                    failures.append(Evidence("device", op.verb, f"{op.describe()}: ok though the server stalled"))
                elif op.code != "timeout":
                    failures.append(Evidence("device", op.verb, f"{op.describe()} {took:.2f} s after the stall began: "
                                             f"not its own timeout (code=timeout) within its {why}"))
                if took > allowed:
                    failures.append(Evidence("device", op.verb, f"{op.describe()} {took:.2f} s after the stall began, "
                                             f"the device's {why} (+{CLOCK_SLACK:.0%} clock slack) "
                                             f"+ {PROTOCOL_GRACE_S:.0f} s allow {allowed:.2f} s"))
                out.append(judge(
                    criterion, failures,
                    ok=f"{op.verb} ended {took:.2f} s after the {protocol} server stalled (device's {why})",
                    bad=f"{op.verb} did not end in an error within the device's declared timeout",
                    measurements=(Measurement("request ended after the stall", round(took, 3), round(allowed, 3),
                                              "<=", "s"),),
                    support=(Evidence("transcript", f"{protocol} session {hit.session}", hit.describe(),
                                      ctx.transcript_path(protocol)),
                             Evidence("device", op.verb, op.describe())),
                    subject=f"{protocol} stall at {hit.event}"))
        return out

    check.__name__ = f"stall_timeouts_{criterion}"
    return check
