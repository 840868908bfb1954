"""Everything one workload run left behind: the input to every check."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.agent.device import DeviceInfo, MemoryStatus, OpResult
from bench.agent.uartlog import UartRecord
from bench.servers.transcript import Transcript
from bench.workload.model import Step, Workload


@dataclass(frozen=True)
class StepResult:
    step: Step
    ops: tuple[OpResult, ...]  # the agent operations the step turned into

    @property
    def final(self) -> OpResult:
        return self.ops[-1]


IncidentKind = Literal["fault", "boot", "lost", "timeout"]


@dataclass(frozen=True)
class Incident:
    """Something the device did that no workload asks for: a ``* fault`` report, a
    ``* boot`` it was not asked for, a console that went away or stopped answering."""

    kind: IncidentKind
    where: str  # "step 3 of 7 (pop3.retr n=3)", "before the first step", ...
    t: float  # bench clock
    line: str  # the UART line, or the transport error when no line came
    request: str = ""  # the last request line the bench had sent by then

    def describe(self) -> str:
        what = {"fault": "fault", "boot": "unexpected reboot", "lost": "console lost", "timeout": "no answer"}
        pending = f" (last request: {self.request})" if self.request else ""
        return f"{what[self.kind]} during {self.where}{pending}: {self.line}"


@dataclass
class RunEvidence:
    workload: Workload
    directory: Path
    device: DeviceInfo
    target_mtu: int
    steps: list[StepResult] = field(default_factory=list)
    uart: list[UartRecord] = field(default_factory=list)
    uart_log: Path | None = None
    smtp: Transcript | None = None
    pop3: Transcript | None = None
    pcap: Path | None = None
    annotated: Path | None = None  # pcapng whose failing packets carry criterion comments
    memory_before: MemoryStatus | None = None
    memory_after: MemoryStatus | None = None
    healthy_after: bool = True  # the device still answered after the workload
    incidents: list[Incident] = field(default_factory=list)  # faults, reboots, lost console, in order
    sessions_ended: bool = False  # every session the steps opened ended (server side) and memory_after was read
    settle_s: float | None = None  # from the servers' last session end until memory was back (or the wait gave up)
    stopped: str = ""  # why the runner stopped before the last step (resources exhausted, an incident)
    server_ports: dict[str, int] = field(default_factory=dict)  # "smtp"/"pop3" -> port
    t_start: float = 0.0
    t_end: float = 0.0

    def artifact(self, name: str) -> Path:
        return self.directory / name
