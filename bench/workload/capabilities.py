"""A workload fitted to what the device declares (docs/agent-protocol.md, "Required
and optional verbs").

A step that needs an optional verb the device does not declare either uses a
declared equivalent (a ``probe`` NOOP, which only shows that the session is still
usable, becomes STAT) or makes the whole workload not applicable: it is skipped
with that reason, never run into ``unknown-verb`` and never failed.
"""
from __future__ import annotations

from dataclasses import replace

from bench.agent.device import DeviceInfo
from bench.workload.model import Pop3Op, Pop3Open, SendMail, Step, Workload

#: what a probe step becomes on a device without its verb: the same "is the session usable" question
PROBE_EQUIVALENT = "stat"


class NotApplicable(Exception):
    """The workload needs a verb the device does not declare; ``str()`` is the skip reason."""


def step_verbs(step: Step) -> tuple[str, ...]:
    """The agent verbs the runner sends for ``step``."""
    if isinstance(step, SendMail):
        return ("smtp.config", "smtp.body", "smtp.send")
    if isinstance(step, Pop3Open):
        return ("pop3.open",)
    if isinstance(step, Pop3Op):
        return (f"pop3.{step.op}",)
    raise TypeError(f"unknown step {step!r}")


def fit(workload: Workload, info: DeviceInfo) -> Workload:
    """``workload`` as this device can run it: probes on declared equivalents.

    Raises ``NotApplicable`` when a step needs an undeclared verb that has no equivalent."""
    steps: list[Step] = []
    for step in workload.steps:
        if isinstance(step, Pop3Op) and step.probe and not info.has_verb(f"pop3.{step.op}"):
            step = replace(step, op=PROBE_EQUIVALENT, n=None)
        steps.append(step)
    fitted = workload if tuple(steps) == workload.steps else replace(workload, steps=tuple(steps))
    missing = sorted({v for s in steps for v in step_verbs(s) if not info.has_verb(v)})
    if missing:
        raise NotApplicable(
            f"workload {workload.name} needs {', '.join(missing)}, which device {info.fw or '?'} does not "
            f"declare (caps={','.join(sorted(info.caps)) or 'none'}); {', '.join(workload.criteria)} not judged by it"
        )
    return fitted
