"""Criteria judged from the device's own answers: the status the application got
for each step, its faults, reboots and console, and its memory across each workload."""
from __future__ import annotations

from collections.abc import Callable

from bench.agent.device import PROBE_VERB, OpResult
from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Measurement, Verdict, inconclusive, judge
from bench.workload.evidence import RunEvidence, StepResult

Check = Callable[[CheckContext], list[Verdict]]


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


def incident_failures(ctx: CheckContext) -> list[Evidence]:
    """Faults, unexpected reboots, a lost or silent console, and a device that did not
    answer after the workload: each one fails DEV-ROB-1, whatever the workload tested."""
    run = ctx.run
    failures = [Evidence("uart", f"t={i.t:.6f}", i.describe(), run.uart_log) for i in run.incidents]
    if not run.healthy_after:
        failures.append(Evidence("uart", "after the workload", f"device did not answer {PROBE_VERB}", run.uart_log))
    return failures


def dev_rob_1(ctx: CheckContext) -> list[Verdict]:
    """Malformed server input: a clear error to the application, the device keeps
    answering over UART, and the next session succeeds; no fault, reboot or lost console."""
    steps = ctx.run.steps
    incidents = incident_failures(ctx)
    if not steps and not incidents:
        return [inconclusive("DEV-ROB-1", "no step ran")]
    failures = incidents + expectation_failures(ctx, steps)
    errs = [i for i, sr in enumerate(steps) if sr.step.expect == "err"]
    if errs and not any(sr.final.ok and sr.step.expect == "ok" for sr in steps[errs[-1] + 1 :]):
        failures.append(Evidence("device", "workload", "no successful session after the last fault"))
    support = tuple(op_evidence(ctx, sr.final) for sr in steps)
    return [
        judge(
            "DEV-ROB-1",
            failures,
            ok="clear error for each fault; device answers; next session succeeds",
            bad=_rob1_summary(ctx, "fault not handled as required"),
            support=support,
            measurements=(Measurement("faulted steps", len(errs), None), _incident_count(ctx)),
            subject=ctx.run.workload.name,
        )
    ]


def dev_rob_1_incidents(ctx: CheckContext) -> list[Verdict]:
    """DEV-ROB-1 on a workload that does not list it: only its fault/reboot/console part."""
    return [
        judge(
            "DEV-ROB-1",
            incident_failures(ctx),
            ok="no fault, reboot or lost console",
            bad=_rob1_summary(ctx, "device did not answer after the workload"),
            measurements=(_incident_count(ctx),),
            subject=ctx.run.workload.name,
        )
    ]


def _incident_count(ctx: CheckContext) -> Measurement:
    return Measurement("faults, reboots, lost consoles", len(ctx.run.incidents), 0, "<=")


def _rob1_summary(ctx: CheckContext, otherwise: str) -> str:
    first = ctx.run.incidents[0] if ctx.run.incidents else None
    return f"{first.describe()}" if first else otherwise


MEMORY_FIGURES = ("pool_free", "heap_free", "pcb_free")


def dev_rob_2(ctx: CheckContext) -> list[Verdict]:
    """Free packet buffers, heap and TCP control blocks return to their figures before
    the workload, once its sessions have ended (the runner waits for them to settle)."""
    run = ctx.run
    before, after = run.memory_before, run.memory_after
    if before is None or after is None or not run.sessions_ended:
        why = run.stopped or ("memory was not sampled" if after is None else "not every session had ended")
        return [inconclusive("DEV-ROB-2", f"memory not judged: {why}", run.workload.name)]
    measurements = tuple(
        Measurement(f"{name} after {len(run.steps)} steps", getattr(after, name), getattr(before, name), ">=")
        for name in MEMORY_FIGURES
    )
    failures = [
        Evidence("device", "sys.info", f"{m.name}: {m.value} < {m.limit} before the workload", run.uart_log)
        for m in measurements
        if not m.passes()
    ]
    if failures and run.stopped:
        failures.append(Evidence("device", "workload", f"stopped at {run.stopped}", run.uart_log))
    settle = Measurement("settled within", round(run.settle_s or 0.0, 3), None, unit="s")
    return [
        judge(
            "DEV-ROB-2",
            failures,
            ok="memory back to its figures before the workload",
            bad="memory not back to its figures before the workload: a leak",
            measurements=(*measurements, settle),
            subject=run.workload.name,
        )
    ]


def device_checks_for(run: RunEvidence) -> list[Check]:
    """DEV-ROB-1 and DEV-ROB-2 on a workload that does not list them: DEV-ROB-1 (its
    fault part) when anything went wrong with the device, DEV-ROB-2 whenever the
    sessions all ended and memory was read before and after."""
    checks: list[Check] = []
    listed = set(run.workload.criteria)
    if "DEV-ROB-1" not in listed and (run.incidents or not run.healthy_after):
        checks.append(dev_rob_1_incidents)
    if "DEV-ROB-2" not in listed and run.sessions_ended and run.memory_before and run.memory_after:
        checks.append(dev_rob_2)
    return checks
