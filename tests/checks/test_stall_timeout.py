"""A stall past the timeout judged by the device's declared timeouts: a NetX Duo-like
device (reply_ms=10000, no timeout-arg) is not failed for waiting its 10 s, though
the workload asked for 1.5 s; one honouring timeout_ms is held to it."""
from __future__ import annotations

import poplib
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from bench.agent.device import DeviceInfo, DeviceLimits, DeviceTimeouts, OpResult
from bench.checks.context import CheckContext
from bench.checks.timeouts import stall_timeouts
from bench.checks.verdict import Outcome, Verdict
from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.pop3 import Pop3Emulator
from bench.servers.transcript import Transcript
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Workload

NETX = DeviceInfo("netx/6.4", "b", frozenset({"pop3"}), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20),
                  "127.0.0.1", "", DeviceTimeouts(10_000, 10_000, 30_000))
REF = replace(NETX, fw="ref/1", caps=frozenset({"pop3", "timeout-arg"}), timeouts=DeviceTimeouts(10_000, 10_000, 10_000))


@pytest.fixture(scope="module")
def stalled() -> Transcript:
    """A real stall: the emulator stops answering RETR; poplib gives up and leaves."""
    plan = FaultPlan([FaultRule("RETR", "stall", ms=300)])
    with Pop3Emulator.from_spec({"u": ("pw", (b"Subject: a\r\n\r\nhi\r\n",))}, apop=False, faults=plan) as srv:
        p = poplib.POP3("127.0.0.1", srv.port, timeout=0.2)
        p.user("u")
        p.pass_("pw")
        with pytest.raises((TimeoutError, socket.timeout)):
            p.retr(1)
        p.close()
        srv.wait_sessions(1, timeout=5)
        return srv.transcript


def judged(tmp_path: Path, transcript: Transcript, info: DeviceInfo, after_s: float, ok: bool = False,
           code: str = "timeout") -> Verdict:
    (hit,) = transcript.hits
    t = hit.t
    retr = OpResult("pop3.retr", {"n": "1"}, ok, {} if ok else {"code": code, "stage": "retr"}, b"",
                    t - 0.01, t + after_s)
    opened = OpResult("pop3.open", {}, True, {"auth": "user"}, b"", t - 0.5, t - 0.1)
    wl = Workload("stall", "", (Pop3Open("u", "pw"), Pop3Op("retr", 1, expect="err")), ("DEV-ROB-1",), timeout_ms=1500)
    ev = RunEvidence(wl, tmp_path, info, 1500, steps=[StepResult(wl.steps[0], (opened,)), StepResult(wl.steps[1], (retr,))],
                     pop3=transcript)
    (v,) = stall_timeouts("DEV-ROB-1")(CheckContext(ev))
    return v


def test_a_device_with_compile_time_timeouts_is_judged_by_its_declared_reply_ms(tmp_path: Path, stalled) -> None:
    v = judged(tmp_path, stalled, NETX, 11.2)  # an emulated clock runs behind: 10 s took 11.2
    assert v.outcome is Outcome.PASS and "reply_ms 10000 ms" in v.summary
    assert v.measurements[0].value == 11.2 and v.measurements[0].limit == 14.0
    late = judged(tmp_path, stalled, NETX, 14.5)
    assert late.outcome is Outcome.FAIL and "allow 14.00 s" in late.evidence[0].excerpt


def test_a_device_honouring_timeout_ms_is_held_to_the_request_s(tmp_path: Path, stalled) -> None:
    assert judged(tmp_path, stalled, REF, 1.6).outcome is Outcome.PASS
    v = judged(tmp_path, stalled, REF, 4.0)  # it declared timeout-arg, then waited longer than asked (3.375 s)
    assert v.outcome is Outcome.FAIL and "timeout_ms 1500 ms" in v.evidence[0].excerpt


def test_success_from_a_stalled_server_fails(tmp_path: Path, stalled) -> None:
    v = judged(tmp_path, stalled, NETX, 0.5, ok=True)
    assert v.outcome is Outcome.FAIL and "ok though the server stalled" in v.evidence[0].excerpt


def test_only_the_servers_close_is_not_a_timeout(tmp_path: Path, stalled) -> None:
    """Measured: firmware declaring timeout-arg but keeping 10 s ends with code=closed when
    the stalling server gives up (its wait + 25 % + 1 s): it never timed out."""
    v = judged(tmp_path, stalled, REF, 2.9, code="closed")
    assert v.outcome is Outcome.FAIL and "not its own timeout (code=timeout)" in v.evidence[0].excerpt


def test_no_stall_no_verdict(tmp_path: Path) -> None:
    wl = Workload("clean", "", (), ("DEV-ROB-1",))
    ev = RunEvidence(wl, tmp_path, NETX, 1500, pop3=Transcript("pop3"))
    assert stall_timeouts("DEV-ROB-1")(CheckContext(ev)) == []


@pytest.mark.emulated
def test_a_real_device_without_timeout_arg_waits_its_own_10_s(tmp_path: Path) -> None:
    """The reference firmware declared as NetX Duo is (no timeout-arg, 10 s per reply): the
    bench sends no timeout_ms, so the firmware uses its default 10 s; the server's stall
    outlasts that, the bench waits for it, and DEV-ROB-1 passes on the declared figure."""
    import sys

    from bench.config import load_target
    from bench.session import bench_session

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
    import workloads as wl

    with bench_session(load_target("mps2-an385"), tmp_path) as session:
        device = session.boot()
        assert device.info is not None and device.info.timeout_arg
        device.info = replace(device.info, caps=device.info.caps - {"timeout-arg"},
                              timeouts=DeviceTimeouts(10_000, 10_000, 30_000))
        workload = replace(wl.pop3_fault("stall", FaultRule("RETR", "stall"), Pop3Op("retr", 1)), criteria=("DEV-ROB-1",))
        evidence, verdicts = session.run(workload, "stall")
    assert all("timeout_ms" not in op.args for sr in evidence.steps for op in sr.ops)
    (stall,) = [v for v in verdicts if v.subject == "pop3 stall at RETR"]
    assert stall.outcome is Outcome.PASS and "reply_ms 10000 ms" in stall.summary, stall
    assert 9.5 < stall.measurements[0].value <= 14.0
    assert all(v.outcome is Outcome.PASS for v in verdicts), verdicts
