"""Faults as evidence and memory on every workload, judged from the device's own lines:
a ``* fault`` or unexpected ``* boot`` is placed in the step it arrived in and fails
DEV-ROB-1 (named by its UART line) whether or not the workload listed it; DEV-ROB-2
is judged on every workload whose sessions ended; a device short of pool buffers or
PCBs is one that cannot run a session."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, MemoryStatus, OpResult
from bench.agent.uartlog import UartRecord
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome
from bench.workload.evidence import Incident, RunEvidence, StepResult
from bench.workload.health import exhaustion, recovered, session_needs
from bench.workload.model import Mail, Pop3Op, Pop3Open, SendMail, Workload
from bench.workload.runner import BEFORE, step_label, uart_incidents

INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", "")
MEM = MemoryStatus(uptime_ms=1, heap_free=90_000, pool_free=32, pool_total=32, pcb_free=8, pcb_total=8)
FAULT = b"* fault kind=hardfault pc=0x00001234 msg=lr%3D0x00000001"
BOOT = b"* boot proto=1 fw=ref/1 board=mps2-an385 caps=pop3,smtp mtu=1500"
MAIL = Mail(to="inbox@bench.test", subject="s", body=b"x\r\n")


def _rec(t: float, direction: str, line: bytes) -> UartRecord:
    return UartRecord(t, direction, line)  # type: ignore[arg-type]


def _evidence(tmp_path: Path, criteria: tuple[str, ...], **kw) -> RunEvidence:  # type: ignore[no-untyped-def]
    wl = Workload("w", "", (Pop3Open("u", "p"), Pop3Op("retr", 1)), criteria)
    op = OpResult("pop3.open", {}, True, {}, b"", 1.0, 1.1)
    return RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(wl.steps[0], (op,))], **kw)


def test_fault_and_boot_lines_are_placed_in_their_step() -> None:
    phases = [(10.0, "step 1 of 2 (pop3.open user=u)"), (11.0, "step 2 of 2 (pop3.retr n=1)"), (12.0, "the end")]
    records = [
        _rec(9.5, "dev", b"2 ok"),
        _rec(11.1, "host", b"5 pop3.retr n=1 mode=data"),
        _rec(11.2, "dev", b"5 data aGVsbG8="),
        _rec(11.3, "dev", FAULT + b"\r"),
        _rec(11.4, "dev", BOOT),
        _rec(9.0, "dev", b"* log not an incident"),
    ]
    found = uart_incidents(records, phases)
    assert [(i.kind, i.where, i.line) for i in found] == [
        ("fault", "step 2 of 2 (pop3.retr n=1)", FAULT.decode()),
        ("boot", "step 2 of 2 (pop3.retr n=1)", BOOT.decode()),
    ]
    assert found[0].request == "5 pop3.retr n=1 mode=data"
    cut = uart_incidents([_rec(11.5, "dev", b"5 data aGVsb* boot proto=1 fw=x")], phases)  # reset mid-line
    assert [(i.kind, i.line) for i in cut] == [("boot", "* boot proto=1 fw=x")]
    assert uart_incidents([_rec(1.0, "dev", BOOT)], phases)[0].where == BEFORE


def test_step_labels_name_the_operation() -> None:
    assert step_label(Pop3Op("retr", 3)) == "pop3.retr n=3"
    assert step_label(Pop3Op("quit")) == "pop3.quit"
    assert step_label(SendMail(MAIL)) == "send mail 's'"


def test_a_fault_fails_dev_rob_1_naming_the_uart_line(tmp_path: Path) -> None:
    fault = Incident("fault", "step 2 of 2 (pop3.retr n=1)", 11.3, FAULT.decode(), "5 pop3.retr n=1")
    ev = _evidence(tmp_path, ("DEV-ROB-1",), incidents=[fault])
    (v,) = judge_run(ev)
    assert v.criterion == "DEV-ROB-1" and v.outcome is Outcome.FAIL
    assert FAULT.decode() in v.summary and "step 2 of 2" in v.summary
    assert any(FAULT.decode() in e.excerpt for e in v.evidence)


def test_a_fault_fails_a_workload_that_did_not_list_dev_rob_1(tmp_path: Path) -> None:
    lost = Incident("lost", "step 1 of 2 (pop3.open user=u)", 1.0, "console lost: [Errno 5]")
    ev = _evidence(tmp_path, (), incidents=[lost])
    (v,) = judge_run(ev)
    assert (v.criterion, v.outcome) == ("DEV-ROB-1", Outcome.FAIL)
    assert "console lost" in v.summary
    silent = _evidence(tmp_path, (), healthy_after=False)
    assert [(v.criterion, v.outcome) for v in judge_run(silent)] == [("DEV-ROB-1", Outcome.FAIL)]
    assert judge_run(_evidence(tmp_path, ())) == []  # nothing happened, nothing sampled: nothing to judge


def test_memory_judged_on_every_workload_whose_sessions_ended(tmp_path: Path) -> None:
    leaked = replace(MEM, pool_free=31)
    ev = _evidence(tmp_path, (), memory_before=MEM, memory_after=leaked, sessions_ended=True, settle_s=1.0)
    (v,) = judge_run(ev)
    assert (v.criterion, v.outcome) == ("DEV-ROB-2", Outcome.FAIL)
    assert any("pool_free after 1 steps: 31 < 32 before" in e.excerpt for e in v.evidence)
    ok = _evidence(tmp_path, (), memory_before=MEM, memory_after=replace(MEM, heap_free=91_000), sessions_ended=True)
    assert [(v.criterion, v.outcome) for v in judge_run(ok)] == [("DEV-ROB-2", Outcome.PASS)]
    open_ = _evidence(tmp_path, (), memory_before=MEM, memory_after=leaked, sessions_ended=False)
    assert judge_run(open_) == []  # a session still open holds its buffers: not a leak to judge
    listed = replace(open_, workload=replace(open_.workload, criteria=("DEV-ROB-2",)))
    (v,) = judge_run(listed)
    assert v.outcome is Outcome.INCONCLUSIVE and "not every session had ended" in v.summary


def test_a_session_needs_a_receive_window_of_pool_buffers_and_a_pcb() -> None:
    assert session_needs(INFO) == (4, 5840, 1)  # ceil(5840 / 1500) frames of a full window
    assert exhaustion(MEM, INFO) == ""
    dry = exhaustion(replace(MEM, pool_free=3), INFO)
    assert "pool ran dry (pool_free=3 of 32, a session needs 4)" in dry
    assert "no free TCP control block (pcb_free=0 of 8)" in exhaustion(replace(MEM, pcb_free=0), INFO)
    assert recovered(MEM, replace(MEM, heap_free=MEM.heap_free + 8))
    assert not recovered(MEM, replace(MEM, pcb_free=7))


def test_incident_description_says_what_and_where() -> None:
    i = Incident("boot", "step 1 of 1 (pop3.stat)", time.time(), BOOT.decode(), "7 pop3.stat")
    assert i.describe() == f"unexpected reboot during step 1 of 1 (pop3.stat) (last request: 7 pop3.stat): {BOOT.decode()}"
