"""A bench session: one target opened, its board flashed and booted once, its
device reused across workloads and rebooted only when a workload leaves it
unhealthy: faulted, silent, or unable to use the network. The pytest plugin and the ``bench`` command both drive this."""
from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.agent.client import AgentClient, AgentLost, AgentTimeout, DeviceFault
from bench.agent.codec import ProtocolViolation
from bench.agent.device import Device, DeviceInfo, MemoryStatus
from bench.agent.uartlog import UartLog
from bench.capture.annotate import annotate
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Verdict
from bench.config import TargetConfig
from bench.target.protocols import TargetError
from bench.target.target import Target, open_target
from bench.workload.capabilities import fit
from bench.workload.evidence import RunEvidence
from bench.workload.health import exhaustion
from bench.workload.model import Workload
from bench.workload.runner import TRANSPORT_ERRORS, WorkloadRunner

CHECK_FRESH_S = 5.0  # a workload that ended this recently, healthy, stands for the health check
BOOT_TIMEOUT_S = 15.0


class BootFailure(TargetError):
    """The board never came up: one line naming the cause."""


@dataclass
class BootRecord:
    started: float  # power-on requested (QEMU start)
    banner: float  # boot banner seen
    reason: str


@dataclass
class BenchSession:
    config: TargetConfig
    run_dir: Path
    image: Path
    target: Target | None = None
    device: Device | None = None
    boots: list[BootRecord] = field(default_factory=list)
    uart: UartLog = field(default_factory=UartLog)
    reboot_reason: str = ""  # set after a workload with a fault: reboot before the next use
    _last_check: tuple[float, MemoryStatus] | None = field(default=None, repr=False)  # (when, memory) of a healthy end

    def boot(self, reason: str = "session start") -> Device:
        """Flash and power the board, wait for its banner, ask ``hello``."""
        assert self.target is not None
        board = self.target.board
        if board.alive():
            board.power_off()
        with contextlib.suppress(TargetError):  # a console of its own (USB, ser2net): open it before the
            self.target.console.open()          # flash, so the first boot's output is not lost
        t0 = time.time()
        agent: AgentClient | None = None
        try:
            board.flash(self.image)
            board.power_on()
            agent = AgentClient(self.target.console.open(), self.uart)
            self.device = Device(agent)
            banner = self.device.wait_boot(timeout=BOOT_TIMEOUT_S)
        except (AgentTimeout, AgentLost, DeviceFault, ProtocolViolation, TargetError) as exc:
            raise BootFailure(self._boot_cause(exc, agent)) from None
        self.boots.append(BootRecord(t0, banner.t, reason))
        self._configure_network(self.device.hello())
        return self.device

    def _boot_cause(self, exc: Exception, agent: AgentClient | None) -> str:
        """One line: QEMU's fatal line, else the first fault with its pc, else what the UART last said."""
        name = self.image.name
        board = self.target.board if self.target else None
        qemu_says = getattr(board, "failure_cause", lambda: None)()
        if qemu_says:
            return f"board never booted {name}: {qemu_says}"
        if agent is not None and agent.faults:
            f = agent.faults[0]
            pc = f.fields.get("pc", b"?").decode("ascii", "replace")
            return (f"board never booted {name}: '* fault {f.text}' (pc {pc}); "
                    f"{agent.fault_count} fault line(s) before any banner")
        if isinstance(exc, AgentTimeout):
            last = agent.last_output() if agent is not None else b""
            said = repr(last.decode("utf-8", "backslashreplace")[-120:]) if last else "nothing at all"
            return f"board never booted {name}: no banner in {BOOT_TIMEOUT_S:.0f} s; last UART output: {said}"
        return f"board never booted {name}: {exc}"

    def _configure_network(self, info: DeviceInfo) -> None:
        """Give the device the target file's addresses when it booted with others (tap, real NIC)."""
        net = self.config.network
        want6 = net.device_ip6 or ""
        if info.ip == net.device_ip and (not want6 or info.ip6 == want6):
            return
        if not info.has_verb("net.config"):  # judged as it is: its declared addresses, or
            return  # POP-CONN-1/SMTP-CONN-1 name the one it connects from (bench.checks.address)
        assert self.device is not None
        mask = ipaddress.IPv4Network(f"0.0.0.0/{net.prefix_len}").netmask
        args = {"ip": net.device_ip, "mask": str(mask), "gw": net.server_ip}
        if want6:
            args["ip6"] = want6
        self.device.agent.request("net.config", **args)
        self.device.hello()

    def healthy_device(self) -> Device:
        """The booted device, rebooted first (and the reason recorded in ``boots``) if the
        last workload saw it fault, reboot or lose its console, if it stopped answering,
        or if it can no longer use the network (pool ran dry, no free PCB)."""
        if self.device is None:
            return self.boot("first use")
        pending, self.reboot_reason = self.reboot_reason, ""
        if not self.target or not self.target.board.alive():
            return self.boot(f"board gone ({pending})" if pending else "board gone")
        if pending:
            return self.boot(pending)
        last, self._last_check = self._last_check, None
        if last is not None and time.monotonic() - last[0] < CHECK_FRESH_S:
            memory = last[1]  # the workload that just ended saw it answer and read its memory
        else:
            if not self.device.responsive():
                return self.boot("device unresponsive")
            memory = None
        short = self._resources_short(memory)
        if short:
            return self.boot(f"cannot use the network: {short}")
        return self.device

    def _resources_short(self, memory: MemoryStatus | None = None) -> str:
        assert self.device is not None
        try:
            return exhaustion(memory or self.device.memory(), self.device.info)
        except TRANSPORT_ERRORS as exc:
            return f"sys.info failed: {exc}"

    def run(self, workload: Workload, name: str) -> tuple[RunEvidence, list[Verdict]]:
        device = self.healthy_device()
        assert self.target is not None
        workload = fit(workload, device.info or device.hello())  # NotApplicable: needs an undeclared verb
        runner = WorkloadRunner(device, self.config, self.target.tap)
        directory = self.run_dir / name
        for k in range(2, 1000):  # several workloads in one test: one folder each
            if not directory.exists():
                break
            directory = self.run_dir / f"{name}-{k}"
        evidence = runner.run(workload, directory)
        if evidence.incidents:  # a fault or reboot left the device in a state no test chose
            self.reboot_reason = f"after {workload.name}: {evidence.incidents[0].describe()}"
        elif evidence.healthy_after and evidence.memory_after is not None:
            self._last_check = (time.monotonic(), evidence.memory_after)
        verdicts = judge_run(evidence)
        if evidence.pcap is not None and evidence.pcap.exists() and any(not v.passed for v in verdicts):
            evidence.annotated = annotate(evidence.pcap, verdicts)
        return evidence, verdicts


@contextlib.contextmanager
def bench_session(config: TargetConfig, run_dir: Path, image: Path | None = None,
                  board: str = "") -> Iterator[BenchSession]:
    """``board`` names one of several boards sharing ``run_dir`` (its own board dir and UART log)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    session = BenchSession(config, run_dir, image or config.board.image)
    suffix = f"-{board}" if board else ""
    session.uart.open_session(run_dir / f"uart-session{suffix}.log")
    with open_target(config, run_dir / f"board{suffix}") as target:
        session.target = target
        session.config = target.config  # the run's: in tap mode, the tap and addresses it got
        try:
            yield session
        finally:
            session.uart.close()
