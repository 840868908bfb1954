"""Several boards in one run: pytest-xdist workers, one board each, one run dir.

``bench run --boards N`` starts N pytest-xdist workers (``-n N --dist worksteal``).
Each worker boots its own board: an emulated one gets its own QEMU, ports, QMP
socket, capture and tap (``board-<worker>/``, ``uart-session-<worker>.log``); a
real one is claimed from the pool file (``--pool``, ``bench.target.pool``) by a
lock the kernel frees if the worker dies. A board that fails to flash or boot is
quarantined for the run and the worker claims the next free one.

Results merge in the controller, not in files: each worker sends every finished
test, verdicts included (already redacted), in its teardown report's
``user_properties``; the controller rebuilds it, appends it to the one
``RunRecord`` and writes verdicts.json and junit.xml after every test, as a
single-board run does. A worker's boots, device identity and bench errors come
back in ``workeroutput`` when it ends.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.config import TargetConfig
from bench.report.store import TestRecord
from bench.target.pool import NoFreeBoard, Quarantine, apply, claim, load_pool
from bench.target.protocols import TargetError

TEST_KEY = "mailbench.test"
WORKER_KEY = "mailbench.worker"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_id(config: pytest.Config) -> str:
    return str(config.workerinput["workerid"]) if is_worker(config) else ""


def is_controller(config: pytest.Config) -> bool:
    """The xdist controller: it runs no test, it merges the workers' results."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None))


# -- worker side ------------------------------------------------------------------
@dataclass
class Board:
    """The board a worker tries next: its target file, its name, how to take it out of the run."""

    config: TargetConfig
    name: str
    several: bool  # more than one board shares the run dir: name the board's files
    pool_id: str = ""
    _quarantine: Quarantine | None = None

    def quarantine(self, reason: str) -> bool:
        """Take a pool board out of the run; False when there is no other board to try."""
        if self._quarantine is None:
            return False
        self._quarantine.add(self.pool_id, reason)
        return True


def boards(config: pytest.Config, target: TargetConfig, run_dir: Path) -> Iterator[Board]:
    """The boards this worker may use, in order; each pool board is held while it is in use."""
    pool = config.getoption("--pool")
    wid = worker_id(config)
    if not pool:
        yield Board(target, wid or target.name, several=bool(wid))
        return
    entries = load_pool(Path(pool))
    quarantine = Quarantine(run_dir / "quarantine.json")
    while True:  # the fixture takes the next one only after quarantining this one
        try:
            with claim(entries, target.name, quarantine) as entry:
                yield Board(apply(target, entry), entry.id, several=True, pool_id=entry.id, _quarantine=quarantine)
        except NoFreeBoard as exc:
            raise TargetError(str(exc)) from None

def send_test(report: pytest.TestReport, test: TestRecord) -> None:
    report.user_properties.append((TEST_KEY, json.dumps(test.to_dict(), default=str)))


def send_summary(config: pytest.Config, record: Any, board: str) -> None:
    data = record.to_dict()
    config.workeroutput[WORKER_KEY] = json.dumps({
        "board": board,
        "device": data["device"],
        "boots": [{**b, "board": board} for b in data["boots"]],
        **{k: data[k] for k in ("boot_failure", "bench_error", "interrupted")},
    }, default=str)


# -- controller side --------------------------------------------------------------
def received_test(report: pytest.TestReport) -> TestRecord | None:
    for key, value in report.user_properties:
        if key == TEST_KEY:
            return TestRecord.from_dict(json.loads(value))
    return None


def merge_worker(record: Any, workeroutput: dict[str, Any]) -> None:
    """A worker's boots, identity and failures into the controller's record."""
    raw = workeroutput.get(WORKER_KEY)
    if raw is None:
        return
    data = json.loads(raw)
    record.boots.extend(SimpleNamespace(**b) for b in data.get("boots", []))
    record.boards.append(data.get("board", ""))
    if record.device is None and data.get("device"):
        record.device = _device(data["device"])
    if not record.boot_failure and data.get("boot_failure"):
        record.boot_failure = f"{data['board']}: {data['boot_failure']}"
    if record.bench_error is None and data.get("bench_error"):
        record.bench_error = data["bench_error"]
    if record.interrupted is None and data.get("interrupted"):
        record.interrupted = data["interrupted"]


def _device(d: dict[str, Any]) -> SimpleNamespace:
    """What the record reads of a DeviceInfo, as written to verdicts.json (tables as attributes)."""
    return SimpleNamespace(**{k: SimpleNamespace(**v) if isinstance(v, dict) else set(v) if k == "caps" else v
                              for k, v in d.items()})
