"""A run's verdicts and artifacts as data: what every reporter reads.

``verdicts.json`` in the run directory is the contract between a run and its
reports; the HTML and console reporters render it, they never re-judge.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.checks.verdict import Verdict
from bench.report.redact import redact, workload_secrets

if TYPE_CHECKING:
    from bench.workload.evidence import RunEvidence


#: what ``status`` in verdicts.json can say
STATUS_RUNNING, STATUS_COMPLETE, STATUS_INTERRUPTED, STATUS_BENCH_ERROR = (
    "running", "complete", "interrupted", "bench-error")


def new_run_id(target: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{target}"


def allocate_run_dir(root: Path, target: str) -> Path:
    """A new, empty ``root/<time>-<target>[-k]`` that no other process has: the
    directory is created here (mkdir is atomic), so runs started in the same
    second get different ones."""
    root.mkdir(parents=True, exist_ok=True)
    base = new_run_id(target)
    for k in range(1, 10000):
        path = root / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run directory for {base} in {root}")


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename: a reader sees
    the old file or the new one, never a part (a kill or a full disk keeps the old)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def verdict_to_dict(v: Verdict, secrets: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        "criterion": v.criterion,
        "outcome": v.outcome.value,
        "summary": redact(v.summary, secrets),
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
                "excerpt": redact(e.excerpt, secrets),
                "artifact": str(e.artifact) if e.artifact else None,
                "packets": list(e.packets),
            }
            for e in v.evidence
        ],
    }


def verdict_from_dict(d: dict[str, Any]) -> Verdict:
    """The inverse of ``verdict_to_dict`` (a worker's verdicts reach the controller as data)."""
    from dataclasses import fields

    from bench.checks.verdict import Evidence, Measurement, Outcome

    known = {f.name for f in fields(Verdict)}
    extra = {k: v for k, v in d.items() if k in known and k not in
             ("criterion", "outcome", "summary", "subject", "measurements", "evidence")}
    return Verdict(
        criterion=d["criterion"], outcome=Outcome(d["outcome"]), summary=d["summary"], subject=d.get("subject", ""),
        measurements=tuple(Measurement(**m) for m in d.get("measurements", [])),
        evidence=tuple(Evidence(source=e["source"], locator=e["locator"], excerpt=e["excerpt"],
                                artifact=Path(e["artifact"]) if e.get("artifact") else None,
                                packets=tuple(e.get("packets", ()))) for e in d.get("evidence", [])),
        **extra,
    )


@dataclass
class TestRecord:
    nodeid: str
    criteria: tuple[str, ...] = ()
    verdicts: list[Verdict] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "not run"
    duration: float = 0.0
    error: str = ""
    #: credentials of the workloads run (never written; used to redact what is)
    secrets: set[str] = field(default_factory=set, repr=False)

    @property
    def dirname(self) -> str:
        name = self.nodeid.split("::", 1)[-1]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:100]

    def add_run(self, evidence: RunEvidence, verdicts: list[Verdict]) -> None:
        self.secrets |= workload_secrets(evidence.workload)
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestRecord:
        """A test as a worker wrote it (already redacted: the controller keeps no secrets)."""
        return cls(nodeid=d["nodeid"], criteria=tuple(d.get("criteria", ())), outcome=d.get("outcome", "not run"),
                   duration=float(d.get("duration", 0.0)), error=d.get("error", ""),
                   verdicts=[verdict_from_dict(v) for v in d.get("verdicts", [])],
                   artifacts=list(d.get("artifacts", [])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "criteria": list(self.criteria),
            "outcome": self.outcome,
            "duration": self.duration,
            "error": redact(self.error, self.secrets),
            "verdicts": [verdict_to_dict(v, self.secrets) for v in self.verdicts],
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
    status: str = STATUS_RUNNING
    planned: int = 0  # tests collected
    #: set when a signal ended the run: {"signal": "SIGTERM", "test": nodeid or ""}
    interrupted: dict[str, str] | None = None
    #: set when the bench or the board failed (not the firmware's criteria):
    #: {"kind": "boot"|"disk"|"capture"|..., "message": one line, "test": nodeid or ""}
    bench_error: dict[str, str] | None = None
    boards: list[str] = field(default_factory=list)  # the boards that ran the tests (one per worker)

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
            "boards": self.boards,
            "status": self.status,
            "planned": self.planned,
            "interrupted": self.interrupted,
            "bench_error": self.bench_error,
            "tests": [t.to_dict() for t in self.tests],
            "waivers": [s.to_dict() for s in self.waiver_status()],
        }

    def write(self) -> Path:
        """verdicts.json, atomically (after every test and at the end)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return write_atomic(self.directory / "verdicts.json", json.dumps(self.to_dict(), indent=1, default=str))


def missing_line(data: dict[str, Any]) -> str | None:
    """One line saying what a partial run lacks, or None for a complete run."""
    status = data.get("status", STATUS_COMPLETE)  # runs written before ``status`` existed were complete
    ran, planned = len(data.get("tests", [])), int(data.get("planned") or 0)
    of = f"{ran} of {planned} tests" if planned else f"{ran} tests"
    if status == STATUS_COMPLETE:
        return None
    if status == STATUS_INTERRUPTED:
        intr = data.get("interrupted") or {}
        during = f" during {intr['test']}" if intr.get("test") else ""
        return f"partial run: interrupted by {intr.get('signal', 'a signal')}{during}; {of} recorded"
    if status == STATUS_BENCH_ERROR:
        err = data.get("bench_error") or {}
        return f"{err.get('message', 'bench error')}; {of} recorded"
    return f"partial run: the bench stopped without finishing (killed?); {of} recorded"
