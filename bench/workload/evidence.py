"""Everything one workload run left behind: the input to every check."""
from __future__ import annotations

import hashlib

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


def maildrop_message(workload: Workload, user: str, n: int) -> bytes | None:
    """Message ``n`` (from 1) of ``user``'s maildrop as the workload's server holds it; None
    when the workload does not say (no such user or message: RETR should fail)."""
    spec = workload.pop3_server
    messages = spec.maildrops[user][1] if spec is not None and user in spec.maildrops else ()
    return messages[n - 1] if 0 < n <= len(messages) else None


def retr_digest(op: OpResult) -> tuple[int, str]:
    """What a ``pop3.retr`` reply says the device delivered: (octets, md5)."""
    return int(op.fields.get("octets", "-1") or -1), op.fields.get("md5", "")


def retr_bytes(op: OpResult) -> bytes | None:
    """The bytes a ``pop3.retr`` streamed (``mode=data``); None when it reported only the digest."""
    return op.data if op.data or op.args.get("mode") == "data" else None


def digest_matches(op: OpResult, message: bytes) -> bool:
    return retr_digest(op) == (len(message), hashlib.md5(message).hexdigest())


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
