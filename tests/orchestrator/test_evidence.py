"""Evidence that survives and holds no credentials: atomic writes, unique run
dirs, what a dead bench left swept (only that), `bench report` on partial runs."""
from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import runtime
from bench.checks.verdict import Evidence, Outcome, Verdict
from bench.report.junit import render_junit
from bench.report.redact import MARK, redact, secret_forms
from bench.report import store
from bench.report.store import RunRecord, allocate_run_dir, missing_line, write_atomic

TestRecord = store.TestRecord
TestRecord.__test__ = False  # a record, not a test class


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("text,shown", [
    ("PASS tanstaaf sent at packet 7, before the reply", f"PASS {MARK} sent at packet 7, before the reply"),
    ("c>s: APOP mrose c4c9334bac560ecc979e58001b3e22fb", f"c>s: APOP mrose {MARK}"),
    ("AUTH PLAIN AGRldmljZQBzM2NyZXQtcHc=", f"AUTH PLAIN {MARK}"),
    ("3 pop3.open host=10.0.2.2 user=mrose pass=tanstaaf apop=1", f"3 pop3.open host=10.0.2.2 user=mrose pass={MARK} apop=1"),
    ("334 UGFzc3dvcmQ6 then dGFuc3RhYWY=", f"334 UGFzc3dvcmQ6 then {MARK}"),  # AUTH LOGIN's password line
    ("AUTH LOGIN", "AUTH LOGIN"), ("USER mrose", "USER mrose"),
    # prose from the checks' own summaries stays as written
    ("USER/PASS or APOP only, transaction only after +OK", "USER/PASS or APOP only, transaction only after +OK"),
    ("AUTH PLAIN accepted with 235", "AUTH PLAIN accepted with 235"),
    ("AUTH chosen among those advertised", "AUTH chosen among those advertised"),
    ("APOP digest is MD5(timestamp + password)", "APOP digest is MD5(timestamp + password)"),
])
def test_credentials_are_redacted_whatever_their_length(text: str, shown: str) -> None:
    assert redact(text, secret_forms([("mrose", "tanstaaf")])) == shown
    if "tanstaaf" in text:  # a longer password shows the same: the length is not given away
        assert redact(text.replace("tanstaaf", "t" * 40), secret_forms([("mrose", "t" * 40)])) == shown


def test_verdicts_and_junit_hold_no_password(tmp_path: Path) -> None:
    v = Verdict("POP-WIRE-1", Outcome.FAIL, "PASS tanstaaf sent before +OK", subject="pop3-session",
                evidence=(Evidence("pcap", "packet 7", "PASS tanstaaf sent at packet 7", None, (7,)),))
    t = TestRecord("tests/acceptance/test_pop3.py::test_x", ("POP-WIRE-1",), [v], outcome="failed",
                   error="[POP-WIRE-1] FAIL: PASS tanstaaf sent", secrets=secret_forms([("mrose", "tanstaaf")]))
    rec = RunRecord("r", "t", tmp_path, time.time(), tests=[t])
    rec.write()
    text = (tmp_path / "verdicts.json").read_text() + render_junit(rec)
    assert "tanstaaf" not in text and text.count(MARK) >= 4
    ET.fromstring(render_junit(rec).split("?>", 1)[1])  # well-formed


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.json"
    write_atomic(path, '{"old": 1}')

    with pytest.raises(TypeError):
        write_atomic(path, object())  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["verdicts.json"]


def _allocate(root: str, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    q.put(str(allocate_run_dir(Path(root), "mps2-an385")))


def test_run_dirs_are_unique_across_processes_in_the_same_second(tmp_path: Path) -> None:
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=_allocate, args=(str(tmp_path), q)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    dirs = [q.get(timeout=5) for _ in procs]
    assert len(set(dirs)) == 8 and all(Path(d).is_dir() for d in dirs)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a tap needs root")
def test_sweep_removes_what_a_dead_bench_listed_whatever_the_names_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.STATE_DIR_ENV, str(tmp_path / "state"))  # no other bench sweeps it first
    def persistent_tap(name: str) -> None:
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", name.encode(), 0x1002))
        fcntl.ioctl(fd, 0x400454CB, 1)  # TUNSETPERSIST
        os.close(fd)

    mine, other = f"odd{os.getpid() % 100000}", f"keep{os.getpid() % 100000}"
    persistent_tap(mine)
    persistent_tap(other)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sock = runtime.state_dir() / f"{dead.pid}-qmp0.sock"
    sock.write_text("")
    state = runtime.state_dir() / f"{dead.pid}.json"
    state.write_text(json.dumps({"pid": dead.pid, "start": "1", "sockets": [str(sock)],
                                 "taps": {mine: int(Path(f"/sys/class/net/{mine}/ifindex").read_text())}}))
    try:
        removed = runtime.sweep()
        assert f"tap {mine}" in removed and f"socket {sock}" in removed
        assert not Path(f"/sys/class/net/{mine}").exists() and not sock.exists() and not state.exists()
        assert Path(f"/sys/class/net/{other}").exists()  # not listed: not the bench's, left alone
    finally:
        for n in (mine, other):
            subprocess.run(["ip", "link", "del", n], capture_output=True)


def test_a_live_bench_state_is_never_swept() -> None:
    path = runtime.state_dir() / f"{os.getpid()}.json"
    runtime.socket_path("probe.sock").write_text("")
    try:
        other = subprocess.run([sys.executable, "-c", "from bench import runtime; print(runtime.sweep())"],
                               capture_output=True, text=True, timeout=60)
        assert other.returncode == 0 and "probe.sock" not in other.stdout and path.exists()
    finally:
        runtime.release_socket(runtime.state_dir() / f"{os.getpid()}-probe.sock")


def test_bench_report_on_a_missing_dir_a_selftest_dir_and_a_partial_run(tmp_path: Path) -> None:
    run = _bench("report", str(tmp_path / "nope"))
    assert run.returncode == 2 and run.stderr.strip() == f"bench: no run directory {tmp_path / 'nope'}"
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "selftest.json").write_text("{}")
    run = _bench("report", str(tmp_path / "st"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "a selftest directory" in run.stderr
    rec = RunRecord("r", "mps2-an385", tmp_path / "part", time.time(), planned=45, status="interrupted",
                    interrupted={"signal": "SIGTERM", "test": "tests/acceptance/test_smtp.py::test_x"})
    rec.tests.append(TestRecord("tests/acceptance/test_smtp.py::test_y", outcome="passed"))
    rec.write()
    run = _bench("report", str(tmp_path / "part"))
    assert run.returncode == 0 and (tmp_path / "part" / "report.html").is_file(), run.stderr
    assert run.stderr.strip() == ("bench: partial run: interrupted by SIGTERM during "
                                  "tests/acceptance/test_smtp.py::test_x; 1 of 45 tests recorded")
    assert missing_line(json.loads((tmp_path / "part" / "verdicts.json").read_text())) in run.stderr
