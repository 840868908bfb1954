"""A run's verdicts and artifacts as data: what every reporter reads.

``verdicts.json`` in the run directory is the contract between a run and its
reports; the HTML and console reporters render it, they never re-judge.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.checks.verdict import Verdict

if TYPE_CHECKING:
    from bench.workload.evidence import RunEvidence


def new_run_id(target: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{target}"


def verdict_to_dict(v: Verdict) -> dict[str, Any]:
    return {
        "criterion": v.criterion,
        "outcome": v.outcome.value,
        "summary": v.summary,
        "subject": v.subject,
        "follows": v.follows,
        "follows_reason": v.follows_reason,
        "measurements": [
            {"name": m.name, "value": m.value, "limit": m.limit, "comparator": m.comparator, "unit": m.unit}
            for m in v.measurements
        ],
        "evidence": [
            {
                "source": e.source,
                "locator": e.locator,
                "excerpt": e.excerpt,
                "artifact": str(e.artifact) if e.artifact else None,
                "packets": list(e.packets),
            }
            for e in v.evidence
        ],
    }


@dataclass
class TestRecord:
    nodeid: str
    criteria: tuple[str, ...] = ()
    verdicts: list[Verdict] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "not run"
    duration: float = 0.0
    error: str = ""

    @property
    def dirname(self) -> str:
        name = self.nodeid.split("::", 1)[-1]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:100]

    def add_run(self, evidence: RunEvidence, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)
        self.artifacts.append(
            {
                "workload": evidence.workload.name,
                "directory": str(evidence.directory),
                "pcap": str(evidence.pcap) if evidence.pcap else None,
                "annotated_pcap": str(evidence.annotated) if evidence.annotated else None,
                "uart_log": str(evidence.uart_log) if evidence.uart_log else None,
                "transcripts": [str(p) for p in sorted(evidence.directory.glob("*-transcript.txt"))],
                "t_start": evidence.t_start,
                "t_end": evidence.t_end,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "criteria": list(self.criteria),
            "outcome": self.outcome,
            "duration": self.duration,
            "error": self.error,
            "verdicts": [verdict_to_dict(v) for v in self.verdicts],
            "artifacts": self.artifacts,
        }


@dataclass
class RunRecord:
    run_id: str
    target: str
    directory: Path
    started: float
    finished: float = 0.0
    device: Any = None  # DeviceInfo
    boots: list[Any] = field(default_factory=list)  # BootRecord
    tests: list[TestRecord] = field(default_factory=list)
    report: Path | None = None  # the rendered HTML, once written
    waivers: tuple[Any, ...] = ()  # the target file's [[waiver]] tables (bench.config.waivers.Waiver)
    judged: dict[str, Any] = field(default_factory=dict)  # image, target, catalogue, bench, host (report.identity)
    boot_failure: str = ""  # why the first boot failed: the report's "never booted" banner

    def waiver_status(self) -> list[Any]:
        """What this run made of each waiver (needed, no longer needed, ...)."""
        from bench.checks.waivers import waiver_status

        return waiver_status(self.waivers, [(t.nodeid, t.verdicts) for t in self.tests])

    def to_dict(self) -> dict[str, Any]:
        dev = self.device
        return {
            "run_id": self.run_id,
            "target": self.target,
            "judged": self.judged,
            "boot_failure": self.boot_failure,
            "directory": str(self.directory),
            "started": self.started,
            "finished": self.finished,
            "device": None
            if dev is None
            else {"fw": dev.fw, "board": dev.board, "caps": sorted(dev.caps), "limits": vars(dev.limits),
                  "timeouts": vars(dev.timeouts)},
            "boots": [vars(b) for b in self.boots],
            "tests": [t.to_dict() for t in self.tests],
            "waivers": [s.to_dict() for s in self.waiver_status()],
        }

    def write(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "verdicts.json"
        path.write_text(json.dumps(self.to_dict(), indent=1, default=str))
        return path
