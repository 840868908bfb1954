"""Criteria judged from the device's own answers: the status the application got
for each step, its health after faults, and its memory across a long run."""
from __future__ import annotations

from bench.agent.device import OpResult
from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Measurement, Verdict, inconclusive, judge
from bench.workload.evidence import StepResult


def op_evidence(ctx: CheckContext, op: OpResult, why: str = "") -> Evidence:
    return Evidence(
        source="uart",
        locator=f"t={op.t_end:.6f}",
        excerpt=(why + ": " if why else "") + op.describe(),
        artifact=ctx.run.uart_log,
    )


def expectation_failures(ctx: CheckContext, steps: list[StepResult]) -> list[Evidence]:
    """Steps whose final status differs from what the workload expected (ok/err, stage)."""
    failures = []
    for sr in steps:
        op, step = sr.final, sr.step
        if step.expect == "ok" and not op.ok:
            failures.append(op_evidence(ctx, op, "expected ok"))
        elif step.expect == "err":
            stage = getattr(step, "stage", "")
            if op.ok:
                failures.append(op_evidence(ctx, op, "expected an error, the application was told ok"))
            elif not op.code:
                failures.append(op_evidence(ctx, op, "error without a code"))
            elif stage and op.stage != stage:
                failures.append(op_evidence(ctx, op, f"expected stage={stage}"))
    return failures


def dev_rob_1(ctx: CheckContext) -> list[Verdict]:
    """Malformed server input: a clear error to the application, the device keeps
    answering over UART, and the next session succeeds."""
    steps = ctx.run.steps
    if not steps:
        return [inconclusive("DEV-ROB-1", "no step ran")]
    failures = expectation_failures(ctx, steps)
    errs = [i for i, sr in enumerate(steps) if sr.step.expect == "err"]
    if errs and not any(sr.final.ok and sr.step.expect == "ok" for sr in steps[errs[-1] + 1 :]):
        failures.append(Evidence("device", "workload", "no successful session after the last fault"))
    if not ctx.run.healthy_after:
        failures.append(Evidence("uart", "after the workload", "device did not answer hello", ctx.run.uart_log))
    support = tuple(op_evidence(ctx, sr.final) for sr in steps)
    return [
        judge(
            "DEV-ROB-1",
            failures,
            ok="clear error for each fault; device answers; next session succeeds",
            bad="fault not handled as required",
            support=support,
            measurements=(Measurement("faulted steps", len(errs), None),),
            subject=ctx.run.workload.name,
        )
    ]


def dev_rob_2(ctx: CheckContext) -> list[Verdict]:
    """Free packet buffers, heap and TCP control blocks return to their baseline."""
    before, after = ctx.run.memory_before, ctx.run.memory_after
    if before is None or after is None:
        return [inconclusive("DEV-ROB-2", "memory was not sampled")]
    measurements = tuple(
        Measurement(f"{name} after {len(ctx.run.steps)} steps", getattr(after, name), getattr(before, name), ">=")
        for name in ("pool_free", "heap_free", "pcb_free")
    )
    failures = [
        Evidence("device", "sys.info", f"{m.name}: {m.value} < baseline {m.limit}", ctx.run.uart_log)
        for m in measurements
        if not m.passes()
    ]
    return [
        judge(
            "DEV-ROB-2",
            failures,
            ok="memory back to baseline",
            bad="memory not back to baseline: a leak",
            measurements=measurements,
            subject=ctx.run.workload.name,
        )
    ]
