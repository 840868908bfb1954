"""Turns a workload into servers, a capture and agent commands, and gathers the evidence."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.agent.client import AgentLost, AgentTimeout, DeviceFault
from bench.agent.device import CLOCK_SLACK, BodyPiece, Device, MemoryStatus, OpResult
from bench.agent.uartlog import UartRecord
from bench.config import TargetConfig
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator
from bench.target.protocols import WireTap
from bench.workload import external
from bench.workload.body import body_pieces
from bench.workload.evidence import Incident, RunEvidence, StepResult, digest_matches, maildrop_message
from bench.workload.health import exhaustion, recovered
from bench.workload.model import Pop3Op, Pop3Open, SendMail, Step, Workload

TRANSPORT_ERRORS = (DeviceFault, AgentTimeout, AgentLost)
SETTLE_S = 1.0  # longest wait for memory to come back; the reference needs 2-27 ms (first or second poll)
SETTLE_POLL_S = 0.02
BEFORE, AFTER = "the workload's start", "the end of the workload"


def step_label(step: Step) -> str:
    if isinstance(step, SendMail):
        return f"send mail '{step.mail.subject}'"
    if isinstance(step, Pop3Open):
        return f"pop3.open user={step.user}"
    return f"pop3.{step.op}" + ("" if step.n is None else f" n={step.n}")


def _last_request(records: list[UartRecord], before: float | None = None) -> str:
    for r in reversed(records):
        if r.direction == "host" and (before is None or r.t <= before):
            return r.line.decode("utf-8", "backslashreplace")
    return ""


def uart_incidents(records: list[UartRecord], phases: list[tuple[float, str]]) -> list[Incident]:
    """Every ``* fault`` and ``* boot`` line among a workload's UART records, placed in the
    phase (step) it arrived in, with the request that was pending. No workload resets
    the device, so every boot line is unexpected."""
    found = []
    for r in records:
        if r.direction != "dev":
            continue
        for kind, start in (("fault", r.line.find(b"* fault ")), ("boot", r.line.find(b"* boot "))):
            # a reset cuts the line in flight: the banner then follows half a data line
            if start >= 0:
                line = r.line[start:].rstrip(b"\r").decode("utf-8", "backslashreplace")
                where = next((w for t, w in reversed(phases) if t <= r.t), BEFORE)
                found.append(Incident(kind, where, r.t, line, _last_request(records, r.t)))
    return found


@dataclass
class WorkloadRunner:
    """Runs workloads on one booted device; one instance per test session."""

    device: Device
    config: TargetConfig
    tap: WireTap | None
    #: the last ``smtp.config`` the device accepted in this workload: not sent again while unchanged
    _smtp_config: dict[str, Any] | None = field(default=None, init=False)

    def server_address(self, family: int) -> str:
        net = self.config.network
        if family == 6:
            if not net.server_ip6:
                raise ValueError(f"target {self.config.name} has no IPv6 server address")
            return net.server_ip6
        return net.server_ip

    @contextlib.contextmanager
    def _servers(self, workload: Workload) -> Iterator[dict[str, Any]]:
        bind = self.config.network.bind
        info = self.device.info
        # a stall fault outlasts the reply timeout the device really uses (declared, or the one it honours)
        reply_ms = info.wait_ms("reply_ms", workload.timeout_ms) if info is not None else workload.timeout_ms
        with contextlib.ExitStack() as stack:
            servers: dict[str, Any] = dict(external.servers(workload, self.config.external))
            if workload.smtp_server is not None and "smtp" not in servers:
                spec = workload.smtp_server
                servers["smtp"] = stack.enter_context(
                    SmtpEmulator(users=spec.users, bind=bind, faults=spec.faults, reply_timeout_ms=reply_ms,
                                 **spec.options)
                )
            if workload.pop3_server is not None and "pop3" not in servers:
                spec3 = workload.pop3_server
                servers["pop3"] = stack.enter_context(
                    Pop3Emulator.from_spec(spec3.maildrops, bind=bind, faults=spec3.faults, reply_timeout_ms=reply_ms,
                                           **spec3.options)
                )
            yield servers

    def run(self, workload: Workload, directory: Path) -> RunEvidence:
        """Run every step and gather the evidence. A fault, a reboot or a lost console
        does not raise: it ends the steps, is recorded as an ``Incident`` and judged."""
        workload = external.on_external(workload, self.config.external)  # real servers' accounts
        directory.mkdir(parents=True, exist_ok=True)
        self._smtp_config = None  # a reboot between workloads forgets it
        dev = self.device
        info = dev.info or dev.hello()
        log = dev.agent.log
        log.attach(directory / "uart.log")
        evidence = RunEvidence(workload, directory, info, self.config.network.mtu, t_start=time.time())
        first_record = len(log.records)
        servers: dict[str, Any] = {}
        phases: list[tuple[float, str]] = []  # (start, where): to place each UART incident
        try:
            with self._servers(workload) as servers:
                evidence.server_ports = {name: srv.port for name, srv in servers.items()}
                if self.tap is not None:
                    self.tap.start(directory / "wire.pcap")
                try:
                    self._steps(workload, servers, evidence, phases)
                except TRANSPORT_ERRORS as exc:
                    evidence.stopped = f"{phases[-1][1] if phases else BEFORE}: {exc}"
                    if not isinstance(exc, DeviceFault):  # a fault's own UART line is found below
                        kind = "lost" if isinstance(exc, AgentLost) else "timeout"
                        where = phases[-1][1] if phases else BEFORE
                        evidence.incidents.append(Incident(kind, where, time.time(), str(exc), _last_request(log.records[first_record:])))
        finally:
            if self.tap is not None:
                evidence.pcap = self.tap.stop()
            for name, srv in servers.items():  # kept also when a step raised: the transcript shows how far it got
                if isinstance(srv, external.ExternalServer):  # a real server: its transcript is the wire's
                    served = srv.derive(evidence.pcap)
                    if name == "pop3" and self.config.external and self.config.external.pop3:
                        evidence.workload = replace(workload, pop3_server=external.served_maildrops(
                            self.config.external.pop3, served))
                setattr(evidence, name, srv.transcript)
                srv.transcript.write(directory / f"{name}-transcript.txt")
            evidence.healthy_after = dev.responsive()
            evidence.uart = log.records[first_record:]
            evidence.incidents = sorted([*uart_incidents(evidence.uart, phases), *evidence.incidents], key=lambda i: i.t)
            evidence.uart_log = log.path
            log.detach()
            evidence.t_end = time.time()
        return evidence

    def _steps(self, workload: Workload, servers: dict[str, Any], evidence: RunEvidence,
               phases: list[tuple[float, str]]) -> None:
        """Memory, the steps, the servers' session ends, memory again once it settled."""
        dev = self.device
        evidence.memory_before = dev.memory()
        n = len(workload.steps)
        user = ""  # the POP3 session's, for the message a RETR should deliver
        for i, step in enumerate(workload.steps, 1):
            if isinstance(step, Pop3Open):
                user = step.user
            phases.append((time.time(), f"step {i} of {n} ({step_label(step)})"))
            for srv in servers.values():
                srv.step = i  # fault rules keyed on a step fire only while it runs
            result = StepResult(step, tuple(self._do(step, workload, servers, user)))
            evidence.steps.append(result)
            if workload.trace_memory and isinstance(step, SendMail):
                dev.memory()  # the UART log keeps it: the report's memory-over-rounds plot reads it there
            if step.expect == "ok" and not result.final.ok:
                short = exhaustion(dev.memory(), dev.info)
                if short:  # every later session would time out: stop here, DEV-ROB-2 shows the leak
                    evidence.stopped = f"{phases[-1][1]}: {short}"
                    break
        phases.append((time.time(), AFTER))
        info = dev.info  # the device's own timeouts: it may not honour the workload's
        wait_ms = info.longest_wait_ms(workload.timeout_ms) if info else workload.timeout_ms
        ended = self._settle(evidence.steps, servers, wait_ms / 1000 * (1 + CLOCK_SLACK) + 2)
        t0 = time.monotonic()
        evidence.memory_after = self._memory_settled(evidence.memory_before)
        evidence.settle_s = time.monotonic() - t0
        evidence.sessions_ended = ended

    def _memory_settled(self, before: MemoryStatus) -> MemoryStatus:
        """sys.info until pool, heap and PCBs are back to ``before`` or SETTLE_S passed:
        a connection's last segments and its PCB take a moment after the server saw it end."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            now = self.device.memory()
            if recovered(before, now) or time.monotonic() >= deadline:
                return now
            time.sleep(SETTLE_POLL_S)

    def _settle(self, steps: list[StepResult], servers: dict[str, Any], timeout: float) -> bool:
        """Wait until the servers saw every session the steps opened end, so transcripts
        are complete; False if one is still open."""
        expected = {
            "smtp": sum(isinstance(s.step, SendMail) for s in steps),
            "pop3": sum(isinstance(s.step, Pop3Open) for s in steps),
        }
        return all([srv.wait_sessions(expected[name], timeout=timeout) for name, srv in servers.items()])

    def _do(self, step: Step, workload: Workload, servers: dict[str, Any], user: str) -> list[OpResult]:
        dev = self.device
        host = self.server_address(workload.family)
        ext = {n: s.host for n, s in servers.items() if isinstance(s, external.ExternalServer)}
        tmo = workload.timeout_ms
        if isinstance(step, SendMail):
            c = workload.smtp_client
            config = dict(
                host=ext.get("smtp", host), port=servers["smtp"].port, user=c.user,
                **{"pass": c.password, "from": c.mail_from}, domain=c.domain, auth=step.auth or c.auth, timeout_ms=tmo,
            )  # fmt: skip
            ops: list[OpResult] = []
            if config != self._smtp_config:  # the device keeps its settings for the sends that follow
                ops.append(dev.op("smtp.config", **config))
                self._smtp_config = config if ops[-1].ok else None
            ops.append(self._load_body(step))
            prio = {} if step.mail.priority == "normal" else {"priority": step.mail.priority}  # the default: not sent
            ops.append(dev.op("smtp.send", to=step.mail.to, subject=step.mail.subject, **prio))
            return ops
        if isinstance(step, Pop3Open):
            apop = {"apop": 1} if step.apop else {}  # apop=0 is the default: not sent
            return [
                dev.op(
                    "pop3.open", host=ext.get("pop3", host), port=servers["pop3"].port, user=step.user, **{"pass": step.password},
                    timeout_ms=tmo, **apop,
                )
            ]  # fmt: skip
        if isinstance(step, Pop3Op):
            if step.op == "retr" and step.n is not None:
                known = None if "pop3" in ext else maildrop_message(workload, user, step.n)
                return self._retr(step.n, known)
            args: dict[str, Any] = {} if step.n is None else {"n": step.n}
            return [dev.op(f"pop3.{step.op}", **args)]
        raise TypeError(f"unknown step {step!r}")

    def _retr(self, n: int, known: bytes | None) -> list[OpResult]:
        """RETR n. When the bench knows the message the server holds, the device reports only
        its digest (octets, md5): a match proves the delivery byte for byte, and only a
        mismatch costs a second RETR that streams the bytes, the evidence of a byte-level
        diff. Otherwise (a real server) the bytes come at once."""
        dev = self.device
        if known is None:
            return [dev.op("pop3.retr", n=n, mode="data")]
        digest = dev.op("pop3.retr", n=n)
        if not digest.ok or digest_matches(digest, known):
            return [digest]
        return [digest, dev.op("pop3.retr", n=n, mode="data")]

    def _load_body(self, step: SendMail) -> OpResult:
        mail = step.mail
        return self.device.smtp_body([BodyPiece(fill=mail.fill)] if mail.fill else body_pieces(mail.body))
