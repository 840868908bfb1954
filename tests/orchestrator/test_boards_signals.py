"""``bench run --boards 2`` killed (SIGKILL), sent SIGTERM or Ctrl-C while both boards run tests:
no pytest-xdist worker, no QEMU and no tap outlives it, both boards' pool locks are free for the
next run, and a signal stops both boards' running tests and keeps every finished one."""
from __future__ import annotations

import json
import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.target.pool import NoFreeBoard, claim, load_pool
from runs import WITH_SOAK, Run, alive, bench_taps, family, junit_cases, kill_quietly, start

pytestmark = pytest.mark.emulated
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="tap devices need root")
#: how long a killed run's workers, QEMUs and taps may take to go (liveness only: they go in ~1 s)
GONE_WITHIN = 30.0
BOARDS = ("board-a", "board-b")


def pool_file(tmp_path: Path, target: str) -> Path:
    """Two emulated boards in a pool file: each worker claims one by its lock, as on a lab host."""
    path = tmp_path / "boards.toml"
    path.write_text("".join(f'[[board]]\nid = "{b}"\ntarget = "{target}"\n\n' for b in BOARDS))
    return path


def lock_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The runs' own pool lock dir (``bench.target.pool`` puts it under XDG_RUNTIME_DIR)."""
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    return {"XDG_RUNTIME_DIR": str(xdg)}, xdg / "mailbench-locks"


def wait_for_two_qemus(run: Run, timeout: float = 120.0) -> dict[int, tuple[str, str]]:
    """The bench's processes once two workers run a QEMU each and a test has finished."""
    deadline = time.monotonic() + timeout
    while True:
        procs = family(run.pid)
        qemus = [p for p, (_, cmd) in procs.items() if "qemu-system" in cmd]
        if len(qemus) == 2 and len({parent(q) for q in qemus}) == 2 and run.tests_done() >= 1:
            return procs
        assert run.proc.poll() is None, f"bench ended early ({run.proc.returncode}): {run.output()[-3000:]}"
        assert time.monotonic() < deadline, f"not two QEMUs in {timeout} s: {procs}"
        time.sleep(0.1)


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def wait_nothing_left(procs: dict[int, tuple[str, str]]) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while time.monotonic() < deadline:
        if not alive(procs) and not any(bench_taps(p) for p in procs):
            return
        time.sleep(0.2)
    taps = [t for p in procs for t in bench_taps(p)]
    raise AssertionError(f"{GONE_WITHIN} s after the kill, left running: {alive(procs)}; taps left: {taps}")


def holders(locks: Path) -> list[str]:
    """Processes that have a file of ``locks`` open (who holds a board)."""
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(locks)):
            pid = fd.parts[2]
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:100].decode()
            except OSError:
                cmd = "?"
            found.append(f"{pid} ({cmd}): {target}")
    return found


def assert_boards_free(pool: Path, target: str, locks: Path, timeout: float = GONE_WITHIN) -> None:
    """Both boards can be taken within ``timeout`` (a dead run's worker held one: NoFreeBoard)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with ExitStack() as held:
                got = {held.enter_context(claim(load_pool(pool), target, lock_dir=locks)).id for _ in BOARDS}
            break
        except NoFreeBoard as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{timeout} s after the kill: {exc}; held by: {holders(locks)}") from None
            time.sleep(0.2)
    assert got == set(BOARDS)


@pytest.mark.parametrize("target", ["mps2-an385", pytest.param("mps2-an385-tap", marks=needs_root)])
def test_kill_9_of_a_two_board_run_leaves_no_worker_qemu_tap_or_lock(tmp_path: Path, target: str) -> None:
    pool = pool_file(tmp_path, target)
    env, locks = lock_env(tmp_path)
    run = start(tmp_path / "run", "--boards", "2", "--pool", str(pool), target=target, k=WITH_SOAK, env=env)
    try:
        procs = wait_for_two_qemus(run)
        run.signal(signal.SIGKILL)
        run.proc.wait(30)
    finally:
        kill_quietly(run)
    wait_nothing_left(procs)
    assert_boards_free(pool, target, locks)
    data = run.verdicts()  # the controller wrote it after every test: intact, with what finished
    assert data["status"] == "running" and data["tests"]
    again = start(tmp_path / "run2", "--boards", "2", "--pool", str(pool), target=target,
                  k="bad_password or auth_refused or full_session", env=env)
    rc, out, err = again.finish(300)
    assert rc == 0, out[-2000:] + err[-3000:]
    data = json.loads((tmp_path / "run2" / "verdicts.json").read_text())
    assert sorted(data["boards"]) == sorted(BOARDS), data["boards"]  # the next run took both boards


@pytest.mark.parametrize("how", ["sigterm-to-the-bench", "ctrl-c-to-its-process-group"])
def test_a_signal_during_a_two_board_run_stops_both_boards_and_keeps_what_finished(tmp_path: Path, how: str) -> None:
    sig = signal.SIGTERM if how.startswith("sigterm") else signal.SIGINT
    pool = pool_file(tmp_path, "mps2-an385")
    env, locks = lock_env(tmp_path)
    run = start(tmp_path / "run", "--boards", "2", "--pool", str(pool), k=WITH_SOAK, env=env, own_group=True)
    try:
        procs = wait_for_two_qemus(run)
        deadline = time.monotonic() + 120
        while not list(run.run_dir.glob("test_soak*")):  # one board is inside the long test
            assert time.monotonic() < deadline and run.proc.poll() is None, run.output()[-3000:]
            time.sleep(0.05)
        time.sleep(0.5)
        procs.update(family(run.pid))
        done = run.tests_done()
        if sig == signal.SIGTERM:
            run.signal(sig)
        else:
            run.ctrl_c()
        rc, out, err = run.finish(120)
    finally:
        kill_quietly(run)
    assert rc == 128 + sig, (rc, out[-2000:], err[-3000:])
    assert "Traceback" not in out + err and "crashed" not in out + err, out[-2000:] + err[-3000:]
    assert err.count("bench: partial run:") == 1, err[-3000:]  # said once, by the bench, not by each worker
    data = run.verdicts()
    assert data["status"] == "interrupted" and data["interrupted"]["signal"] == sig.name
    assert sorted(data["boards"]) == sorted(BOARDS), data["boards"]  # both workers reported back
    stopped = [t for t in data["tests"] if t["outcome"] == "interrupted"]
    finished = [t for t in data["tests"] if t["outcome"] != "interrupted"]
    assert any("soak" in t["nodeid"] for t in stopped), data["tests"]  # the running test, marked as such
    assert "soak" in data["interrupted"]["test"] or data["interrupted"]["test"] in {t["nodeid"] for t in stopped}
    assert len(finished) >= done and all(t["outcome"] == "passed" for t in finished), data["tests"]
    assert len(junit_cases(run.run_dir / "junit.xml")) == len(data["tests"])
    assert out.rstrip().splitlines()[-1] == f"report: {run.run_dir / 'report.html'}"
    wait_nothing_left(procs)
    assert_boards_free(pool, "mps2-an385", locks)
