"""Signals and kills at several points of a real run (QEMU, a subset of the suite):
what is finished is kept, the report is written, and nothing of the bench is left."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import runtime, signals
from runs import ROOT, WITH_SOAK, bench_processes, junit_cases, kill_quietly, no_passwords, start, wait_gone

pytestmark = pytest.mark.emulated
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="tap devices need root")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
@pytest.mark.parametrize("when", ["at-boot", "between-tests", "inside-a-long-test"])
def test_a_signal_keeps_what_finished_and_leaves_nothing(tmp_path: Path, sig: signal.Signals, when: str) -> None:
    # with the soak in the subset the run lasts >= 10 s past any point waited for: the signal lands
    # in the run even when this process is descheduled for seconds (QUICK ends ~3 s after its
    # second test here, sooner on a faster machine: a late signal found the run over, exit 0)
    run = start(tmp_path / "run", k=WITH_SOAK)
    try:
        if when == "at-boot":
            run.wait_for(0)  # verdicts.json exists: the session is starting the board
        elif when == "between-tests":
            run.wait_for(2)
        else:
            deadline = time.monotonic() + 90
            while not list(run.run_dir.glob("test_soak*")):  # the soak's workload has started
                assert time.monotonic() < deadline and run.proc.poll() is None, run.output()
                time.sleep(0.05)
            time.sleep(0.5)
        done = run.tests_done()
        run.signal(sig)
        rc, out, err = run.finish(60)
    finally:
        kill_quietly(run)
    assert rc == 128 + sig, (rc, out[-2000:], err[-2000:])
    assert f"interrupted by {sig.name}" in err, err[-2000:]
    assert "Traceback" not in out + err
    data = run.verdicts()
    assert data["status"] == "interrupted" and data["interrupted"]["signal"] == sig.name
    finished = [t for t in data["tests"] if t["outcome"] != "interrupted"]
    assert len(finished) >= done and all(t["outcome"] == "passed" for t in finished), data["tests"]
    if when == "inside-a-long-test":
        assert data["tests"][-1]["outcome"] == "interrupted" and "soak" in data["tests"][-1]["nodeid"]
        assert data["interrupted"]["test"] == data["tests"][-1]["nodeid"]
    assert len(junit_cases(run.run_dir / "junit.xml")) == len(data["tests"])
    report = run.run_dir / "report.html"
    assert report.is_file() and f"report: {report}" in out
    assert out.rstrip().splitlines()[-1] == f"report: {report}"  # the report path is the last line
    assert not no_passwords(run.run_dir)
    wait_gone(run.pid)


# a first SIGINT sent by the bench to itself at a named point (bench.signals.at, test-only): every
# window of the run, not only where a timed signal from outside happens to land; "finalizer": sent
# from inside a __del__ there, where Python swallows what the handler raises (it ran every test on)
BEFORE_THE_RECORD = ["sessionstart", "collection", "runtestloop", "fixture:run_record"]
IN_THE_RUN = ["fixture-done:run_record", "fixture:bench_session_", "fixture-done:bench_session_", "setup:2",
              "teardown:2", "logfinish:2", "setup:3", "runtestloop-end", "sessionfinish"]


@pytest.mark.parametrize("point", BEFORE_THE_RECORD + IN_THE_RUN)
def test_a_first_sigint_at_each_point_of_the_run_ends_it_in_order(tmp_path: Path, point: str) -> None:
    _signal_at(tmp_path, point, "")


@pytest.mark.parametrize("point", ["fixture-done:bench_session_", "teardown:2", "logfinish:2", "setup:3"])
def test_a_first_sigint_swallowed_in_a_finalizer_still_ends_the_run_in_order(tmp_path: Path, point: str) -> None:
    _signal_at(tmp_path, point, "finalizer")


def test_a_first_sigint_kept_by_qmps_reader_task_and_raised_again_at_teardown_ends_the_run_in_order(
        tmp_path: Path) -> None:
    # the signal lands in qemu.qmp's asyncio reader task (in the next test's QMP object-add): the task
    # keeps the Interrupted and raises it again when QMP is closed at session teardown; it escaped
    # pytest_sessionfinish (verdicts.json "running", no report, "stopped without finishing (killed?)")
    _signal_at(tmp_path, "logfinish:2", "call:_bh_recv_message")


def _signal_at(tmp_path: Path, point: str, inside: str) -> None:
    run = start(tmp_path / "run", env={signals.TEST_POINT_ENV: point, signals.TEST_WHERE_ENV: inside})
    try:
        rc, out, err = run.finish(120)
    finally:
        kill_quietly(run)
    assert rc == 130, (rc, out[-2000:], err[-2000:])
    assert "Traceback" not in out + err, (out[-3000:], err[-2000:])
    said = [line for line in err.splitlines() if line.startswith("bench:")]
    if point in BEFORE_THE_RECORD:  # nothing ran: no record, one line says so
        assert said == ["bench: interrupted by SIGINT before any test ran (exit 130)"], err[-2000:]
        assert not (run.run_dir / "verdicts.json").exists()
        wait_gone(run.pid)
        return
    data = run.verdicts()
    assert data["status"] == "interrupted" and data["interrupted"]["signal"] == "SIGINT", (data["status"], err)
    assert len(data["tests"]) < data["planned"] or point in ("runtestloop-end", "sessionfinish"), data["tests"]
    assert [line for line in said if "partial run" in line] == [said[-1]] and "interrupted by SIGINT" in said[-1], said
    report = run.run_dir / "report.html"
    assert out.rstrip().splitlines()[-1] == f"report: {report}" and report.is_file()
    assert len(junit_cases(run.run_dir / "junit.xml")) == len(data["tests"])
    wait_gone(run.pid)


@needs_root
def test_a_second_ctrl_c_stops_at_once_and_still_removes_the_tap(tmp_path: Path) -> None:
    run = start(tmp_path / "run", target="mps2-an385-tap", k=WITH_SOAK)
    try:
        run.wait_for(2)
        run.signal(signal.SIGINT)
        time.sleep(0.05)
        t0 = time.monotonic()
        run.signal(signal.SIGINT)
        rc, out, err = run.finish(30)
        took = time.monotonic() - t0
    finally:
        kill_quietly(run)
    assert rc == 130 and "second signal" in err, (rc, err[-1500:], out[-1500:])
    assert took < 3, took
    assert len(run.verdicts()["tests"]) >= 2  # what finished before the first Ctrl-C was already on disk
    wait_gone(run.pid)


@needs_root
@pytest.mark.parametrize("target", ["mps2-an385", "mps2-an385-tap"])
def test_kill_9_of_the_bench_takes_qemu_and_the_tap_with_it_and_the_next_run_sweeps(
        tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a state dir of these runs' own: any other bench starting on the host meanwhile would sweep
    # the killed one's state file before this test looks for it
    env = {runtime.STATE_DIR_ENV: str(tmp_path / "state")}
    monkeypatch.setenv(runtime.STATE_DIR_ENV, env[runtime.STATE_DIR_ENV])
    run = start(tmp_path / "run", target=target, k=WITH_SOAK, env=env)
    try:
        run.wait_for(3)
        assert bench_processes(run.pid), "no QEMU found for the bench (the check would prove nothing)"
        state = runtime.state_dir() / f"{run.pid}.json"
        assert state.is_file()
        run.signal(signal.SIGKILL)
        run.finish(30)
    finally:
        kill_quietly(run)
    wait_gone(run.pid, timeout=30)  # PR_SET_PDEATHSIG: QEMU dies with the bench; the tap with its last fd
    data = run.verdicts()  # written after every test: intact, and holds what finished
    assert len(data["tests"]) >= 3 and data["status"] == "running"
    report = subprocess.run([sys.executable, "-m", "bench.cli", "report", str(run.run_dir)],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "partial run: the bench stopped without finishing" in report.stderr
    assert state.is_file() and json.loads(state.read_text())["sockets"]  # left behind by the SIGKILL ...
    again = start(tmp_path / "run2", target=target, k="bad_password", env=env)
    rc, out, err = again.finish(120)
    assert rc == 0, err[-2000:]
    assert not state.exists(), "the next run did not remove what the killed one left"  # ... and swept
    wait_gone(again.pid)


def test_kill_of_qemu_mid_run_reboots_and_the_run_goes_on(tmp_path: Path) -> None:
    run = start(tmp_path / "run", k=WITH_SOAK)  # QEMU of QUICK is gone ~1 s after its second test
    try:
        run.wait_for(2)
        pids = [int(p.split(":")[0]) for p in bench_processes(run.pid)]
        assert pids
        for p in pids:
            os.kill(p, signal.SIGKILL)
        rc, out, err = run.finish(120)
    finally:
        kill_quietly(run)
    data = run.verdicts()
    assert data["status"] == "complete" and len(data["tests"]) == data["planned"]
    assert any(b["reason"] != "session start" for b in data["boots"]), data["boots"]
    assert data["tests"][-1]["outcome"] == "passed"  # the board came back for the tests after
    assert rc in (0, 1), err[-2000:]  # the test the kill hit may fail; nothing else
    wait_gone(run.pid)


def test_two_runs_started_together_get_their_own_dirs_and_both_pass_in_user_mode() -> None:
    _two_at_once("mps2-an385")


@needs_root
def test_two_tap_runs_at_once_get_their_own_taps_and_subnets() -> None:
    _two_at_once("mps2-an385-tap")


def _two_at_once(target: str) -> None:
    runs = [start(None, target=target, k="full_session or bad_password") for _ in range(2)]
    results = [r.finish(180) for r in runs]
    dirs = []
    for (rc, out, err), r in zip(results, runs):
        assert rc == 0, err[-2000:]
        report = Path(out.rstrip().splitlines()[-1].removeprefix("report: "))
        dirs.append(report.parent)
        wait_gone(r.pid)
    try:
        assert dirs[0] != dirs[1] and all(d.parent == ROOT / "captures" for d in dirs)
        for d in dirs:  # both complete, every test passed: neither run took the other's tap, port or socket
            data = json.loads((d / "verdicts.json").read_text())
            assert data["status"] == "complete" and [t["outcome"] for t in data["tests"]] == ["passed"] * 3
    finally:
        import shutil

        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
