"""The device's source address, part of POP-CONN-1 and SMTP-CONN-1.

The banner's ``ip`` / ``ip6`` is the address the device's clients connect from
(docs/agent-protocol.md). A device that connects from another one (NetX Duo
prefers a SLAAC address from the router advertisement over the configured
fec0::15) fails here once, naming the address seen; the wire checks still judge
its connections (``wirechecks.wire_limits`` counts every connection to the run's
servers as the device's), so the rest is not INCONCLUSIVE for want of a match.

Judged from the capture: under QEMU's user network the servers see the host's
side of the NAT, not the device. Without a capture the transcript parts of
those criteria judge alone.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable

from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Verdict, judge


def _same(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def source_address(criterion: str, protocol: str) -> Callable[[CheckContext], list[Verdict]]:
    def check(ctx: CheckContext) -> list[Verdict]:
        conns = ctx.connections_to(protocol) if ctx.run.pcap is not None else []
        if not conns:
            return []
        family = ctx.run.workload.family
        key = "ip6" if family == 6 else "ip"
        declared = getattr(ctx.run.device, key)
        failures: list[Evidence] = []
        for c in conns:
            if not declared or not _same(c.client[0], declared):
                said = f"declares {key}={declared}" if declared else f"declares no {key}"
                failures.append(ctx.packet_evidence(
                    (c.c2s.segments[0].index,) if c.c2s.segments else (),
                    f"connected from {c.client[0]}, but the device {said} as its source address"))
        seen = sorted({c.client[0] for c in conns})
        return [judge(criterion, failures,
                      ok=f"{len(conns)} {protocol} connections from the declared {key} {declared}",
                      bad=f"the device connected from {', '.join(seen)}, not the {key} its banner declares "
                          f"({declared or 'none'}): give it that address (net.config) or declare the one it uses",
                      support=tuple(ctx.packet_evidence((c.c2s.segments[0].index,), f"SYN from {c.client[0]}")
                                    for c in conns if c.c2s.segments),
                      subject=f"{protocol} source address")]

    check.__name__ = f"source_address_{protocol}"
    return check
