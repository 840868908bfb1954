"""Wire criteria judged from the capture: one Verdict per criterion per connection.

Criteria: NET-WIRE-1/2 (``wire_net``), POP-WIRE-1/2 (``wire_pop3``), SMTP-WIRE-1,
SMTP-CONN-1, SMTP-MAIL-1 (the RCPT count) and SMTP-MAIL-3 (``wire_smtp``). Every
limit comes from ``WireLimits`` (``wire_limits``), built by the caller from the
target file and the firmware's banner. The device is the client of every
connection. Retransmitted segments never count twice: stream checks read the
reassembled stream, which holds each byte once. This module holds the table of
them all and ``check_wire``, which runs it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from bench.capture.tcpflow import Connection, gc_paused
from bench.checks.verdict import Verdict
from bench.checks.wire_limits import Connections, WireLimits
from bench.checks.wire_net import net_wire_1, net_wire_2
from bench.checks.wire_pop3 import pop_wire_1, pop_wire_2
from bench.checks.wire_smtp import smtp_conn_1, smtp_mail_1, smtp_mail_3, smtp_wire_1

__all__ = ["ALL_CHECKS", "Connections", "WireLimits", "check_wire", "net_wire_1", "net_wire_2", "pop_wire_1",
           "pop_wire_2", "smtp_conn_1", "smtp_mail_1", "smtp_mail_3", "smtp_wire_1"]


ALL_CHECKS: dict[str, Callable[..., list[Verdict]]] = {
    "NET-WIRE-1": net_wire_1,
    "NET-WIRE-2": net_wire_2,
    "POP-WIRE-1": pop_wire_1,
    "POP-WIRE-2": pop_wire_2,
    "SMTP-WIRE-1": smtp_wire_1,
    "SMTP-CONN-1": smtp_conn_1,
    "SMTP-MAIL-1": smtp_mail_1,
    "SMTP-MAIL-3": smtp_mail_3,
}


def check_wire(conns: Connections, limits: WireLimits, artifact: Path | None = None,
               criteria: Iterable[str] | None = None) -> list[Verdict]:
    """Run the wire checks (all, or the named ``criteria``) over the device's connections."""
    conns = [conns] if isinstance(conns, Connection) else list(conns)
    out: list[Verdict] = []
    with gc_paused():
        for cid in (criteria or ALL_CHECKS):
            out.extend(ALL_CHECKS[cid](conns, limits, artifact))
    return out
