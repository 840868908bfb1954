"""A device without NOOP or RSET (NetX Duo's POP3 client): workloads fitted to what it
declares. A probe uses STAT, a workload that needs the verb is not applicable (a skip
with the reason), and neither fails the device."""
from __future__ import annotations

import poplib
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.agent.device import OPTIONAL_VERBS, DeviceInfo, DeviceLimits, OpResult
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome
from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.pop3 import Pop3Emulator
from bench.workload.capabilities import NotApplicable, fit
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
import workloads as wl  # noqa: E402

LIMITS = DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20)
NETX = DeviceInfo("netx/6.4", "b", frozenset({"pop3", "smtp", "pop3.dele", "pop3.abort"}), LIMITS, "127.0.0.1", "")
REF = replace(NETX, fw="ref/1", caps=frozenset({"pop3", "smtp", "timeout-arg", *OPTIONAL_VERBS}))


def ops(workload) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    return [(s.op, s.probe) for s in workload.steps if isinstance(s, Pop3Op)]


def test_a_device_with_every_verb_runs_the_workload_unchanged() -> None:
    for w in (wl.pop3_session(), wl.pop3_rset(), wl.pop3_err("RETR", Pop3Op("retr", 1, expect="err"))):
        assert fit(w, REF) is w


def test_a_probe_noop_becomes_stat_on_a_device_without_noop() -> None:
    w = wl.pop3_err("RETR", Pop3Op("retr", 1, expect="err"))
    fitted = fit(w, NETX)
    assert ops(w) == [("retr", False), ("noop", True), ("quit", False)]
    assert ops(fitted) == [("retr", False), ("stat", True), ("quit", False)]
    assert fitted.criteria == w.criteria and fitted.name == w.name
    session = fit(wl.pop3_session(), NETX)  # DELE is declared: kept; its NOOP probe: STAT
    assert [o for o, _ in ops(session)].count("dele") == 1 and "noop" not in [o for o, _ in ops(session)]


def test_a_workload_that_needs_an_undeclared_verb_is_not_applicable_with_the_reason() -> None:
    with pytest.raises(NotApplicable) as e:
        # RSET and NOOP are what it judges: no equivalent (criteria as bench.check fills them from the marker)
        fit(replace(wl.pop3_rset(), criteria=("POP-TRANS-4",)), NETX)
    reason = str(e.value)
    assert "pop3.noop, pop3.rset" in reason and "netx/6.4" in reason and "POP-TRANS-4" in reason
    with pytest.raises(NotApplicable, match="pop3.abort"):  # a faulted RETR ends in pop3.abort
        fit(wl.pop3_fault("x", FaultRule("RETR", "stall"), Pop3Op("retr", 1)), replace(NETX, caps=frozenset({"pop3"})))


def _err_retr():  # type: ignore[no-untyped-def]
    """The suite's -ERR-to-RETR workload with the criteria its test's marker gives it."""
    return replace(wl.pop3_err("RETR", Pop3Op("retr", 1, expect="err")), criteria=("POP-TRANS-5",))


def _judge(tmp_path: Path, workload, results: list[OpResult]) -> list:  # type: ignore[no-untyped-def]
    """The fitted workload's evidence: poplib (a real client) does what the device did."""
    spec = workload.pop3_server
    with Pop3Emulator.from_spec(spec.maildrops, apop=False, faults=spec.faults) as srv:
        p = poplib.POP3("127.0.0.1", srv.port)
        p.user(wl.USER)
        p.pass_(wl.PASSWORD)
        with pytest.raises(poplib.error_proto):
            p.retr(1)
        p.stat()
        p.quit()
        srv.wait_sessions(1, timeout=5)
        transcript = srv.transcript
    assert b"NOOP" not in b"".join(ln.data for s in transcript.sessions for ln in s.lines)
    steps = [StepResult(s, (r,)) for s, r in zip(workload.steps, results, strict=True)]
    return judge_run(RunEvidence(workload, tmp_path, NETX, 1500, steps=steps, pop3=transcript))


def _op(verb: str, ok: bool = True, **fields: str) -> OpResult:
    return OpResult(verb, {}, ok, fields, b"", time.time(), time.time())


def test_pop_trans_5_judged_with_the_stat_probe_and_still_able_to_fail(tmp_path: Path) -> None:
    w = fit(_err_retr(), NETX)
    good = [_op("pop3.open", auth="user"), _op("pop3.retr", False, code="server", reply="-ERR", stage="retr"),
            _op("pop3.stat", count="3", octets="1"), _op("pop3.quit")]
    (v,) = _judge(tmp_path / "good", w, good)
    assert v.criterion == "POP-TRANS-5" and v.outcome is Outcome.PASS, v
    as_success = [good[0], _op("pop3.retr", n="1", octets="0"), *good[2:]]  # NetX's PASS bug, on RETR
    (bad,) = _judge(tmp_path / "bad", w, as_success)
    assert bad.outcome is Outcome.FAIL


@pytest.mark.emulated
def test_the_runner_on_a_device_declaring_no_noop_or_rset(tmp_path: Path) -> None:
    """The reference firmware with its NOOP and RSET undeclared: the bench sends neither."""
    from bench.config import load_target
    from bench.session import bench_session

    with bench_session(load_target("mps2-an385"), tmp_path) as session:
        device = session.boot()
        assert device.info is not None
        device.info = replace(device.info, caps=device.info.caps - {"pop3.noop", "pop3.rset"})
        evidence, verdicts = session.run(_err_retr(), "err")
        assert "POP-TRANS-5" in {v.criterion for v in verdicts}
        assert all(v.outcome is Outcome.PASS for v in verdicts), verdicts
        assert [o.verb for o in device.history][-3:] == ["pop3.retr", "pop3.stat", "pop3.quit"]
        assert evidence.pop3 is not None
        assert [ln.data.split()[0] for s in evidence.pop3.sessions for ln in s.lines if ln.direction == "c>s"] == [
            b"USER", b"PASS", b"RETR", b"STAT", b"QUIT"]
        with pytest.raises(NotApplicable, match="pop3.noop, pop3.rset"):
            session.run(wl.pop3_rset(), "rset")
        assert not (tmp_path / "rset").exists()  # never run: nothing to judge
