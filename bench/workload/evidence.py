"""Everything one workload run left behind: the input to every check."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    server_ports: dict[str, int] = field(default_factory=dict)  # "smtp"/"pop3" -> port
    t_start: float = 0.0
    t_end: float = 0.0

    def artifact(self, name: str) -> Path:
        return self.directory / name
