"""The emulated board's failure paths with real QEMU: a hung CPU, a crashed
emulator, a missing image, Ctrl-C mid-run. Nothing may be left running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.agent.client import AgentLost, AgentTimeout
from bench.agent.device import OPTIONAL_VERBS
from bench.config import load_target, project_root
from bench.session import BenchSession, bench_session
from bench.target.protocols import TargetError

pytestmark = pytest.mark.emulated

CFG = load_target("mps2-an385")


def qemu_pids(bench_pid: int) -> list[int]:
    """The QEMUs of the bench process ``bench_pid``: their QMP socket is ``<state dir>/<pid>-qmp<n>.sock``
    (QEMU's command line holds no path of the run dir)."""
    mark = f"/{bench_pid}-qmp".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().startswith("qemu-system") \
                    and mark in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


@pytest.fixture
def session(tmp_path: Path) -> Iterator[BenchSession]:
    with bench_session(CFG, tmp_path) as s:
        s.boot()
        assert qemu_pids(os.getpid()), "no QEMU found for the session (the check below would prove nothing)"
        yield s
    assert not qemu_pids(os.getpid()), "QEMU outlived its session"


def test_boot_banner_and_identity(session: BenchSession) -> None:
    info = session.device.info
    assert info is not None and info.board == "mps2-an385" and info.limits.pop3_payload == 120
    # the reference firmware declares every optional verb, timeout-arg and its one client timeout
    assert info.timeout_arg and all(info.has_verb(v) for v in OPTIONAL_VERBS), info.caps
    assert (info.timeouts.connect_ms, info.timeouts.reply_ms, info.timeouts.msg_ms) == (10_000, 10_000, 10_000)
    assert session.boots[0].banner - session.boots[0].started < 5


def test_hung_cpu_times_out_and_session_reboots(session: BenchSession) -> None:
    qemu = session.target.board.qemu  # type: ignore[union-attr]
    qemu.command("stop")  # the CPU stops executing: the firmware is "hung"
    with pytest.raises(AgentTimeout, match="hello"):
        session.device.agent.request("hello", timeout=0.5)
    qemu.command("cont")
    qemu.command("stop")
    device = session.healthy_device()  # unresponsive -> rebooted
    assert [b.reason for b in session.boots] == ["session start", "device unresponsive"]
    assert device.responsive()


def _workloads():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(project_root() / "tests" / "acceptance"))
    import workloads as wl

    return wl


def _when_uart_shows(log, needle: bytes, then, delay: float = 0.0):  # type: ignore[no-untyped-def]
    """A thread that waits for a request containing ``needle`` to go to the device, then acts."""
    import threading

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(needle in r.line for r in log.records if r.direction == "host"):
            time.sleep(0.01)
        time.sleep(delay)
        then()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def _slow_noop_session():  # type: ignore[no-untyped-def]
    """The full POP3 session with NOOP answered after 1.5 s: time to act mid-step."""
    from bench.servers.faults import FaultPlan, FaultRule
    from bench.workload.model import Pop3ServerSpec

    wl = _workloads()
    slow_noop = FaultPlan([FaultRule("NOOP", "delay", ms=1500)])
    return replace(wl.pop3_session(), pop3_server=Pop3ServerSpec(wl.maildrop(), faults=slow_noop))


def test_device_hung_mid_workload_keeps_its_evidence(session: BenchSession) -> None:
    """The CPU stops while the POP3 greeting is delayed: the run ends with a 'no answer'
    incident judged by DEV-ROB-1, transcript and pcap are kept, the session reboots."""
    from bench.checks.verdict import Outcome
    from bench.servers.faults import FaultRule
    from bench.workload.model import Pop3Op

    wl = _workloads()
    qemu = session.target.board.qemu  # type: ignore[union-attr]
    log = session.device.agent.log  # type: ignore[union-attr]
    workload = wl.pop3_fault("slow-greeting", FaultRule("greeting", "delay", ms=1500), Pop3Op("stat"), timeout_ms=1000)
    # connected, waiting for the delayed greeting: the CPU stops
    hang = _when_uart_shows(log, b"pop3.open", lambda: qemu.command("stop"), delay=0.3)
    try:
        evidence, verdicts = session.run(workload, "hung")
    finally:
        hang.join()
        qemu.command("cont")
    (incident,) = evidence.incidents
    assert incident.kind == "timeout" and incident.where == "step 1 of 4 (pop3.open user=mrose)"
    assert "pop3.open" in incident.line and not evidence.healthy_after
    (rob1,) = [v for v in verdicts if v.criterion == "DEV-ROB-1"]
    assert rob1.outcome is Outcome.FAIL and "no answer during step 1 of 4" in rob1.summary
    transcript = (session.run_dir / "hung" / "pop3-transcript.txt").read_text()
    assert "# session 1 pop3" in transcript
    assert (session.run_dir / "hung" / "wire.pcap").stat().st_size > 24  # more than the pcap header
    assert session.healthy_device().responsive()
    assert session.boots[-1].reason.startswith("after pop3-fault-slow-greeting: no answer during step 1 of 4")


def test_reboot_mid_workload_fails_dev_rob_1_and_the_session_reboots(session: BenchSession) -> None:
    """A board reset while the device waits for a (delayed) NOOP reply, in a workload that
    does not list DEV-ROB-1: the boot line is evidence, DEV-ROB-1 fails naming it, the
    next workload runs on a fresh boot."""
    from bench.checks.verdict import Outcome

    wl = _workloads()
    qemu = session.target.board.qemu  # type: ignore[union-attr]
    log = session.device.agent.log  # type: ignore[union-attr]
    workload = _slow_noop_session()
    assert "DEV-ROB-1" not in workload.criteria
    reset = _when_uart_shows(log, b"pop3.noop", lambda: qemu.command("system_reset"), delay=0.3)
    try:
        evidence, verdicts = session.run(workload, "reset")
    finally:
        reset.join()
    (boot,) = evidence.incidents
    assert boot.kind == "boot" and boot.line.startswith("* boot proto=1") and boot.where == "step 8 of 10 (pop3.noop)"
    assert "pop3.noop" in boot.request and len(evidence.steps) == 7
    (rob1,) = [v for v in verdicts if v.criterion == "DEV-ROB-1"]
    assert rob1.outcome is Outcome.FAIL and "unexpected reboot during step 8 of 10 (pop3.noop)" in rob1.summary
    assert not [v for v in verdicts if v.criterion == "DEV-ROB-2"]  # sessions cut short: memory not judged
    after, verdicts = session.run(wl.pop3_session(), "after")
    assert session.boots[-1].reason.startswith("after pop3-session-ipv4: unexpected reboot during step 8 of 10")
    assert all(v.passed for v in verdicts) and not after.incidents


def test_console_lost_mid_workload_is_a_verdict(session: BenchSession) -> None:
    """QEMU dies during a step: 'console lost' is an incident judged by DEV-ROB-1, and
    the next use boots a new board, recording both reasons."""
    from bench.checks.verdict import Outcome

    qemu = session.target.board.qemu  # type: ignore[union-attr]
    log = session.device.agent.log  # type: ignore[union-attr]
    die = _when_uart_shows(log, b"pop3.noop", lambda: (os.kill(qemu.proc.pid, signal.SIGKILL), qemu.proc.wait(5)), 0.3)
    try:
        evidence, verdicts = session.run(_slow_noop_session(), "lost")
    finally:
        die.join()
    (lost,) = evidence.incidents
    assert lost.kind == "lost" and lost.where == "step 8 of 10 (pop3.noop)" and not evidence.healthy_after
    (rob1,) = [v for v in verdicts if v.criterion == "DEV-ROB-1"]
    assert rob1.outcome is Outcome.FAIL
    assert session.healthy_device().responsive()
    assert session.boots[-1].reason.startswith("board gone (after pop3-session-ipv4: console lost during step 8")


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # nothing of the dead QEMU lingers
def test_crashed_emulator_is_reported_and_replaced(session: BenchSession) -> None:
    qemu = session.target.board.qemu  # type: ignore[union-attr]
    os.kill(qemu.proc.pid, signal.SIGKILL)
    qemu.proc.wait(5)
    with pytest.raises(AgentLost):
        session.device.agent.request("hello", timeout=2)
    assert not session.target.board.alive()
    session.healthy_device()
    assert session.boots[-1].reason == "board gone" and session.device.responsive()


def test_missing_image_is_a_clear_error(tmp_path: Path) -> None:
    with bench_session(CFG, tmp_path, image=tmp_path / "nope.elf") as s:
        with pytest.raises(TargetError, match="nope.elf not found"):
            s.boot()


def test_ctrl_c_mid_run_leaves_nothing_behind(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(project_root() / "tests" / "acceptance" / "test_robustness.py"),
         "-k", "soak", "-q", "-p", "no:cacheprovider", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (qemu_pids(proc.pid) and list(run_dir.glob("test_soak*"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemu_pids(proc.pid), "the run never started QEMU"
    assert list(run_dir.glob("test_soak*")), "the soak never started"
    time.sleep(0.5)  # mid-workload (the soak runs for seconds)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0, out.decode(errors="replace")[-3000:]
    assert b"KeyboardInterrupt" in out or b"Interrupted" in out
    deadline = time.monotonic() + 30  # liveness: QEMU goes (in order, or by PR_SET_PDEATHSIG), whatever the load
    while qemu_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not qemu_pids(proc.pid), "QEMU left running after Ctrl-C"


def test_capture_timestamps_are_on_the_host_clock(session: BenchSession) -> None:
    """filter-dump stamps frames with QEMU's own clock; the tap moves them onto the host's."""
    sys.path.insert(0, str(project_root() / "tests" / "acceptance"))
    import workloads as wl

    session.run(wl.one_mail(4), "warm-up")  # later captures drift most without the correction
    evidence, _ = session.run(wl.one_mail(4), "clock")
    from bench.capture.tcpflow import read_connections

    syn = read_connections(evidence.pcap)[0].c2s.segments[0]
    send = next(r for r in evidence.uart if b"smtp.send" in r.line)
    accepted = evidence.smtp.sessions[0].started  # type: ignore[union-attr]
    assert send.t < syn.time < accepted + 0.005, (send.t, syn.time, accepted)
