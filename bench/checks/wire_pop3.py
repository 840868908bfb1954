"""POP-WIRE-1 and POP-WIRE-2 from the capture: command lines and their order, client segment sizes."""
from __future__ import annotations

from pathlib import Path

from bench.capture.dialogue import pop3_dialogue
from bench.capture.tcpflow import Connection
from bench.checks.verdict import Measurement, Verdict, judge
from bench.checks.wire_framing import early_units, line_end_failures, line_evidence
from bench.checks.wire_limits import Connections, WireLimits, each, payload_verdict


def _pop_wire_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    d = pop3_dialogue(conn)
    cmds = [u.first for u in d.units]
    failures = line_end_failures(cmds, artifact)
    long = [c for c in cmds if len(c.text) > limits.pop3_command_max]
    failures += [line_evidence(c, f"command of {len(c.text)} octets > {limits.pop3_command_max}", artifact)
                 for c in long]
    early = early_units(d, artifact)
    failures += [ev for _, ev in early]
    measurements = (
        Measurement("longest command", max((len(c.text) for c in cmds), default=0),
                    limits.pop3_command_max, "<=", "octets"),
        Measurement("commands sent before the previous reply", len(early), 0, "<="),
        Measurement("commands", len(cmds), None),
    )
    return judge("POP-WIRE-1", failures,
                 ok=f"{len(cmds)} commands, each one CRLF line <= {limits.pop3_command_max} octets, "
                    "each after the previous reply",
                 bad="POP3 command framing or ordering broken", measurements=measurements,
                 subject=conn.subject)


def pop_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """POP3 commands: one CRLF line <= 255 octets each, none before the previous reply is complete."""
    return each(_pop_wire_1, conns, limits, artifact, limits.is_pop3)


def _pop_wire_2(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    return payload_verdict("POP-WIRE-2", conn, limits, limits.pop3_payload, "declared pop3_payload", artifact)


def pop_wire_2(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """No POP3 client segment carries more than the declared pop3_payload."""
    return each(_pop_wire_2, conns, limits, artifact, limits.is_pop3)
