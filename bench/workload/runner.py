"""Turns a workload into servers, a capture and agent commands, and gathers the evidence."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.agent.device import Device, OpResult
from bench.config import TargetConfig
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator
from bench.target.protocols import WireTap
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, SendMail, Step, Workload


@dataclass
class WorkloadRunner:
    """Runs workloads on one booted device; one instance per test session."""

    device: Device
    config: TargetConfig
    tap: WireTap | None

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
        with contextlib.ExitStack() as stack:
            servers: dict[str, Any] = {}
            if workload.smtp_server is not None:
                spec = workload.smtp_server
                servers["smtp"] = stack.enter_context(
                    SmtpEmulator(users=spec.users, bind=bind, faults=spec.faults, **spec.options)
                )
            if workload.pop3_server is not None:
                spec3 = workload.pop3_server
                servers["pop3"] = stack.enter_context(
                    Pop3Emulator.from_spec(spec3.maildrops, bind=bind, faults=spec3.faults, **spec3.options)
                )
            yield servers

    def run(self, workload: Workload, directory: Path) -> RunEvidence:
        directory.mkdir(parents=True, exist_ok=True)
        dev = self.device
        info = dev.info or dev.hello()
        log = dev.agent.log
        log.attach(directory / "uart.log")
        evidence = RunEvidence(workload, directory, info, self.config.network.mtu, t_start=time.time())
        first_record = len(log.records)
        servers: dict[str, Any] = {}
        try:
            with self._servers(workload) as servers:
                evidence.server_ports = {name: srv.port for name, srv in servers.items()}
                if self.tap is not None:
                    self.tap.start(directory / "wire.pcap")
                evidence.memory_before = dev.memory()
                for step in workload.steps:
                    evidence.steps.append(StepResult(step, tuple(self._do(step, workload, servers))))
                self._settle(workload, servers)
                evidence.memory_after = dev.memory()
        finally:
            for name, srv in servers.items():  # kept also when a step raised: the transcript shows how far it got
                setattr(evidence, name, srv.transcript)
                srv.transcript.write(directory / f"{name}-transcript.txt")
            if self.tap is not None:
                evidence.pcap = self.tap.stop()
            evidence.healthy_after = dev.responsive()
            evidence.uart = log.records[first_record:]
            evidence.uart_log = log.path
            log.detach()
            evidence.t_end = time.time()
        return evidence

    def _settle(self, workload: Workload, servers: dict[str, Any]) -> None:
        """Wait until the servers saw every session end, so transcripts are complete."""
        expected = {
            "smtp": sum(isinstance(s, SendMail) for s in workload.steps),
            "pop3": sum(isinstance(s, Pop3Open) for s in workload.steps),
        }
        info = self.device.info  # the device's own timeouts: it may not honour the workload's
        wait_ms = info.longest_wait_ms(workload.timeout_ms) if info else workload.timeout_ms
        for name, srv in servers.items():
            srv.wait_sessions(expected[name], timeout=wait_ms / 1000 + 2)

    def _do(self, step: Step, workload: Workload, servers: dict[str, Any]) -> list[OpResult]:
        dev = self.device
        host = self.server_address(workload.family)
        tmo = workload.timeout_ms
        if isinstance(step, SendMail):
            c = workload.smtp_client
            ops = [
                dev.op(
                    "smtp.config", host=host, port=servers["smtp"].port, user=c.user,
                    **{"pass": c.password, "from": c.mail_from}, domain=c.domain, auth=step.auth or c.auth, timeout_ms=tmo,
                )
            ]  # fmt: skip
            ops.append(self._load_body(step))
            ops.append(dev.op("smtp.send", to=step.mail.to, subject=step.mail.subject, priority=step.mail.priority))
            return ops
        if isinstance(step, Pop3Open):
            return [
                dev.op(
                    "pop3.open", host=host, port=servers["pop3"].port, user=step.user, **{"pass": step.password},
                    apop=int(step.apop), timeout_ms=tmo,
                )
            ]  # fmt: skip
        if isinstance(step, Pop3Op):
            args: dict[str, Any] = {} if step.n is None else {"n": step.n}
            if step.op == "retr":
                args["mode"] = "data"
            return [dev.op(f"pop3.{step.op}", **args)]
        raise TypeError(f"unknown step {step!r}")

    def _load_body(self, step: SendMail) -> OpResult:
        dev = self.device
        if step.mail.fill:
            return dev.op("smtp.body", reset=1, fill=step.mail.fill)
        return dev.smtp_body(step.mail.body)
