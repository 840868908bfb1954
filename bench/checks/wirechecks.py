"""Binds the wire checks (``wire.py``: connections + limits -> verdicts) to a run:
limits from the firmware's banner and the target file, ports from the run's servers."""
from __future__ import annotations

from collections.abc import Callable

from bench.checks import wire
from bench.checks.closing import CLOSING_CHECKS
from bench.checks.context import CheckContext
from bench.checks.verdict import Verdict, inconclusive


def wire_limits(ctx: CheckContext) -> wire.WireLimits:
    run = ctx.run
    limits = run.device.limits
    ports = run.server_ports
    return wire.WireLimits.from_device(
        {**vars(limits), "mtu": min(limits.mtu, run.target_mtu)},
        pop3_ports=[ports["pop3"]] if "pop3" in ports else [],
        smtp_ports=[ports["smtp"]] if "smtp" in ports else [],
        # the declared addresses, and whatever connected to this run's servers: a device using
        # another source address fails POP-CONN-1/SMTP-CONN-1 for it (bench.checks.address)
        # and its connections are judged all the same
        device_ips=[run.device.ip, run.device.ip6,
                    *(c.client[0] for c in ctx.connections if c.server[1] in ports.values())],
    )


def _bind(criterion: str, judge_wire: Callable[..., list[Verdict]]) -> Callable[[CheckContext], list[Verdict]]:
    def check(ctx: CheckContext) -> list[Verdict]:
        if ctx.run.pcap is None:
            return [inconclusive(criterion, "this run has no capture")]
        verdicts = judge_wire(ctx.connections, wire_limits(ctx), ctx.run.pcap)
        return verdicts or [inconclusive(criterion, "no matching connection in the capture")]

    check.__name__ = f"wire_{criterion}"
    return check


CHECKS = {criterion: _bind(criterion, f) for criterion, f in wire.ALL_CHECKS.items()}
#: wire parts of criteria judged from other evidence too: the closing order
PARTS = {criterion: _bind(criterion, f) for criterion, f in CLOSING_CHECKS.items()}
