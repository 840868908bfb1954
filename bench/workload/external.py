"""Workloads against real servers: the target's ``[external]`` section.

A protocol the target names there is served by that server, not by an emulator:
the device dials its host and port with its accounts, and the server's
transcript is rebuilt from the capture afterwards (``bench.capture.wire_transcript``),
so the transcript-based checks judge the wire and the device's answers. A
workload that needs what only an emulator can do (a fault plan, emulator
options) is not applicable there, and is skipped with that reason.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from bench.capture.wire_transcript import SOURCE, from_capture
from bench.config.target import ExternalConfig, ExternalPop3
from bench.servers.transcript import Transcript, redact
from bench.workload.capabilities import NotApplicable
from bench.workload.model import Pop3Open, Pop3ServerSpec, SendMail, Step, Workload

#: after the last session: time for its final segments to reach the capture file
WIRE_SETTLE_S = 0.5
WRONG = "-wrong"  # appended to the real password for a step that must be refused


class ExternalServer:
    """Stands where an emulator would: the address the device dials; the transcript
    is read from the capture once it is complete (``derive``)."""

    def __init__(self, protocol: str, host: str, port: int) -> None:
        self.protocol, self.host, self.port = protocol, host, port
        self.name = f"external {protocol} server {host}:{port}"
        self.transcript = Transcript(server=self.name, source=SOURCE)
        self.step = 0  # set by the runner like an emulator's; no fault rule reads it

    def wait_sessions(self, n: int, timeout: float) -> bool:
        """A real server says nothing of its sessions: the capture will."""
        time.sleep(WIRE_SETTLE_S)
        return True

    def derive(self, pcap: Path | None) -> dict[str, dict[int, bytes]]:
        wire = from_capture(pcap, self.protocol, self.port, self.name)
        self.transcript = wire.transcript
        return wire.served


def _step(step: Step, ext: ExternalConfig) -> Step:
    if isinstance(step, Pop3Open) and ext.pop3 is not None:
        p = ext.pop3
        return replace(step, user=p.user, password=p.password + ("" if step.expect == "ok" else WRONG), apop=p.apop)
    if isinstance(step, SendMail) and ext.smtp is not None and ext.smtp.rcpt:
        return replace(step, mail=replace(step.mail, to=ext.smtp.rcpt))
    return step


def on_external(workload: Workload, ext: ExternalConfig | None) -> Workload:
    """``workload`` with the external servers' accounts; unchanged without ``[external]``.

    Raises ``NotApplicable`` for a workload that needs an emulator's faults or options."""
    if ext is None:
        return workload
    for name, spec, real in (("smtp", workload.smtp_server, ext.smtp), ("pop3", workload.pop3_server, ext.pop3)):
        if spec is None or real is None:
            continue
        if (spec.faults is not None and spec.faults.rules) or spec.options:
            raise NotApplicable(f"workload {workload.name} needs the {name} emulator's faults or options; "
                                f"the target's {name} server is external ({real.host}:{real.port})")
        if (":" in real.host) != (workload.family == 6):
            raise NotApplicable(f"workload {workload.name} is over IPv{workload.family}; the target's external "
                                f"{name} server is at {real.host}")
    changes: dict[str, object] = {"steps": tuple(_step(s, ext) for s in workload.steps)}
    if ext.smtp is not None and workload.smtp_server is not None:
        s = ext.smtp
        changes["smtp_client"] = replace(workload.smtp_client, user=s.user, password=s.password,
                                         mail_from=s.mail_from, auth=s.auth)
    return replace(workload, **changes)  # type: ignore[arg-type]


def servers(workload: Workload, ext: ExternalConfig | None) -> dict[str, ExternalServer]:
    """The external servers this workload uses, by protocol."""
    found: dict[str, ExternalServer] = {}
    if ext is not None and ext.smtp is not None and workload.smtp_server is not None:
        found["smtp"] = ExternalServer("smtp", ext.smtp.host, ext.smtp.port)
    if ext is not None and ext.pop3 is not None and workload.pop3_server is not None:
        found["pop3"] = ExternalServer("pop3", ext.pop3.host, ext.pop3.port)
    return found


def served_maildrops(pop3: ExternalPop3, served: dict[str, dict[int, bytes]]) -> Pop3ServerSpec:
    """The maildrop as the wire showed it: the items RETR delivered (what POP-TRANS-3 compares)."""
    got = served.get(pop3.user, {})
    messages = tuple(got.get(n, b"") for n in range(1, max(got, default=0) + 1))
    return Pop3ServerSpec(maildrops={pop3.user: (redact(pop3.password), messages)})
