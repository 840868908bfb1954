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

Signals. A worker dies with the controller, however the controller dies (SIGKILL
included): the kernel sends the worker SIGTERM when its parent ends
(PR_SET_PDEATHSIG), so the worker stops its test as after a Ctrl-C (QEMU
stopped, tap removed, pool lock freed); its QEMU dies with it in any case
(``bench.target.process``). Without this a worker outlives a killed controller
until execnet notices the closed pipe and gives up (5 s, then SIGINT, then
``os._exit`` 10 s later), holding its board's lock, its QEMU and its tap
meanwhile. A first SIGINT, SIGTERM or SIGHUP to the controller is passed on to
the workers (``bench.signals.forward_to``); each stops its running test, sends
it back as ``interrupted`` and ends, and the run ends as a one-board run does.
Each worker is in a process group of its own, so a terminal's Ctrl-C reaches
the controller only and a worker gets it once, not twice (a second signal
stops a worker at once). A worker that ends by a signal tells xdist it
stopped, not crashed: xdist would start a new worker for a crashed one.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
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
CONTROLLER_KEY = "mailbench.controller"  # the controller's pid, in each worker's workerinput


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_id(config: pytest.Config) -> str:
    return str(config.workerinput["workerid"]) if is_worker(config) else ""


def is_controller(config: pytest.Config) -> bool:
    """The xdist controller: it runs no test, it merges the workers' results."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None))


# -- worker side ------------------------------------------------------------------
def watch_controller(config: pytest.Config) -> None:
    """A worker at configure: its own process group, the bench's signal handlers, SIGTERM when
    the controller dies, and xdist told that a signal stopped it."""
    from bench import signals
    from bench.target.process import die_with_parent

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signals.install()
    config.pluginmanager.register(_WorkerSide(), "mailbench-worker-side")
    parent = int(config.workerinput.get(CONTROLLER_KEY, 0))
    if parent and not die_with_parent(parent, signal.SIGTERM):
        os._exit(1)  # the controller died before prctl took effect; nothing of this worker runs yet


class _WorkerSide:
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Runs inside xdist's own sessionfinish wrapper, before it sends ``workeroutput``."""
        from bench import signals

        sig = signals.received()
        out = getattr(session.config, "workeroutput", None)
        if sig is not None and out is not None and exitstatus == pytest.ExitCode.INTERRUPTED:
            out["exitstatus"] = int(pytest.ExitCode.OK)  # 2 reads as a crash: xdist would replace the worker
            out["shouldstop"] = f"{worker_id(session.config)}: interrupted by {signals.name(sig)}"


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
        "stopped": [t for t in data["tests"] if t.get("outcome") == "interrupted"],  # the rest came one by one
    }, default=str)


# -- controller side --------------------------------------------------------------
class ControllerSide:
    """The controller's xdist hooks of this module: its pid to each worker; a first signal to the
    workers that are up (their pids as execnet learnt them when it started them)."""

    def __init__(self) -> None:
        self.workers: dict[str, int] = {}

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[CONTROLLER_KEY] = os.getpid()

    @pytest.hookimpl(trylast=True)  # after the plugin's sessionstart has reset and installed the handlers
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from bench import signals

        signals.forward_to(self.forward)

    def pytest_testnodeready(self, node: Any) -> None:
        rinfo = getattr(node.gateway, "_cache_rinfo", None)  # cached by xdist at setup; asking again would block
        if rinfo is not None:
            self.workers[node.gateway.id] = int(rinfo.pid)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self.workers.pop(node.gateway.id, None)

    def forward(self, signum: int) -> bool:
        """Pass ``signum`` to every live worker; False when there is none (the controller stops itself)."""
        sent = False
        for pid in list(self.workers.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
                sent = True
        return sent


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
    got = data.get("interrupted")
    if got and (record.interrupted is None or (got.get("test") and not record.interrupted.get("test"))):
        record.interrupted = got  # the worker that was inside a test names it, whichever ends first
    record.tests.extend(TestRecord.from_dict(t) for t in data.get("stopped", []))


def _device(d: dict[str, Any]) -> SimpleNamespace:
    """What the record reads of a DeviceInfo, as written to verdicts.json (tables as attributes)."""
    return SimpleNamespace(**{k: SimpleNamespace(**v) if isinstance(v, dict) else set(v) if k == "caps" else v
                              for k, v in d.items()})
