"""Waivers: a team's recorded deviations, read from a target file and applied to
verdicts judged from real evidence (poplib against the POP3 emulator)."""
from __future__ import annotations

import poplib
import time
from pathlib import Path

import pytest

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome, Verdict
from bench.checks.waivers import skip_reason, waive, waiver_status
from bench.config import ConfigError, load_target, project_root
from bench.config.waivers import Waiver
from bench.report.console import render_summary
from bench.report.store import RunRecord
from bench.report.store import TestRecord as Record
from bench.servers.pop3 import Pop3Emulator
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Pop3ServerSpec, Workload

BASE = (project_root() / "targets" / "mps2-an385.toml").read_text()
INFO = DeviceInfo("netx/6.4", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "127.0.0.1", "")
SPEC = Pop3ServerSpec({"u": ("pw", (b"Subject: a\r\n\r\nhi\r\n",))})
NODE = "tests/acceptance/test_pop3.py::test_bad_password_refused"
AUTH5 = Waiver(criterion="POP-AUTH-5", reason="-ERR to PASS returned as NX_SUCCESS",
               reference="netxduo bd5d12e9 addons/pop3/nxd_pop3_client.c:3249-3292")


def target(tmp_path: Path, waivers: str) -> Path:
    path = tmp_path / "team.toml"
    path.write_text(BASE + "\n" + waivers)
    return path


def test_waivers_are_read_from_the_target_file(tmp_path: Path) -> None:
    cfg = load_target(target(tmp_path, '''
[[waiver]]
criterion = "POP-AUTH-5"
reason = "-ERR to PASS returned as NX_SUCCESS"
reference = "netxduo bd5d12e9 addons/pop3/nxd_pop3_client.c:3249-3292"

[[waiver]]
criterion = "SMTP-EHLO-1"
test = "test_split_replies"
reason = "one reply = one nx_tcp_socket_receive"
reference = "https://github.com/eclipse-threadx/netxduo/issues/1"
'''))
    assert cfg.waiver == (AUTH5, Waiver(criterion="SMTP-EHLO-1", test="test_split_replies",
                                        reason="one reply = one nx_tcp_socket_receive",
                                        reference="https://github.com/eclipse-threadx/netxduo/issues/1"))
    assert load_target("mps2-an385").waiver == ()


@pytest.mark.parametrize(("table", "message"), [
    ('criterion = "POP-AUTH-9"\nreason = "r"\nreference = "x.c:1"',
     "[waiver[1]] criterion: unknown criterion 'POP-AUTH-9': not in REQUIREMENTS.md version 3"),
    ('criterion = "POP-AUTH-5"\nreference = "x.c:1"', "[waiver[1]] reason: missing key"),
    ('criterion = "POP-AUTH-5"\nreason = ""\nreference = "x.c:1"', "[waiver[1]] reason: string should have at least 1 character"),
    ('criterion = "POP-AUTH-5"\nreason = "r"\nreference = "x.c:1"\ncriteria = "x"', "[waiver[1]] criteria: unknown key"),
])
def test_a_bad_waiver_is_one_config_error_line_naming_file_and_key(tmp_path: Path, table: str, message: str) -> None:
    good = '[[waiver]]\ncriterion = "POP-AUTH-5"\nreason = "r"\nreference = "x.c:1"\n'
    path = target(tmp_path, f"{good}\n[[waiver]]\n{table}\n")
    with pytest.raises(ConfigError) as e:
        load_target(path)
    lines = str(e.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: {message}"), lines


def _op(verb: str, ok: bool = True, **fields: str) -> OpResult:
    return OpResult(verb, {}, ok, fields, b"", time.time(), time.time())


def pop_auth_5(tmp_path: Path, reported: OpResult) -> list[Verdict]:
    """A refused PASS (poplib did the device's part), then a good login; ``reported`` is what
    the device told the application about the refused one."""
    with Pop3Emulator.from_spec(SPEC.maildrops, apop=False) as srv:
        p = poplib.POP3("127.0.0.1", srv.port)
        p.user("u")
        with pytest.raises(poplib.error_proto):
            p.pass_("wrong")
        p.close()
        p = poplib.POP3("127.0.0.1", srv.port)
        p.user("u")
        p.pass_("pw")
        p.quit()
        srv.wait_sessions(2, timeout=5)
        transcript = srv.transcript
    steps = (Pop3Open("u", "wrong", expect="err"), Pop3Open("u", "pw"), Pop3Op("quit"))
    wl = Workload("pop3-bad-password", "", steps, ("POP-AUTH-5",), pop3_server=SPEC)
    results = (reported, _op("pop3.open", auth="user"), _op("pop3.quit"))
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, (r,)) for s, r in zip(steps, results)], pop3=transcript)
    return judge_run(ev)


NETX_BUG = _op("pop3.open", auth="user")  # -ERR to PASS reported as success
REFUSED = _op("pop3.open", False, code="auth", stage="pass", reply="-ERR")


def test_a_covered_fail_is_waived_never_a_pass_and_its_waiver_needed(tmp_path: Path) -> None:
    judged = pop_auth_5(tmp_path, NETX_BUG)
    assert [v.outcome for v in judged] == [Outcome.FAIL]
    (v,) = waive(judged, [AUTH5], NODE)
    assert v.outcome is Outcome.WAIVED and not v.passed
    assert v.evidence[0].source == "waiver" and "nxd_pop3_client.c:3249" in v.evidence[0].excerpt
    assert v.evidence[1:] == judged[0].evidence and v.measurements == judged[0].measurements
    assert skip_reason([v]) == ("waived: POP-AUTH-5: -ERR to PASS returned as NX_SUCCESS "
                                "(netxduo bd5d12e9 addons/pop3/nxd_pop3_client.c:3249-3292)")
    (status,) = waiver_status([AUTH5], [(NODE, [v])])
    assert status.status == "needed"


def test_a_waiver_whose_criterion_passes_is_no_longer_needed(tmp_path: Path) -> None:
    judged = pop_auth_5(tmp_path, REFUSED)
    assert [v.outcome for v in judged] == [Outcome.PASS]
    assert waive(judged, [AUTH5], NODE) == judged
    (status,) = waiver_status([AUTH5], [(NODE, judged)])
    assert status.status == "no longer needed" and "remove the waiver" in status.line()


def test_a_waiver_covers_only_its_criterion_its_test_and_fails() -> None:
    fail = Verdict("POP-AUTH-5", Outcome.FAIL, "x")
    scoped = AUTH5.model_copy(update={"test": "test_bad_password_refused"})
    assert waive([fail], [scoped], NODE + "[ipv6]")[0].outcome is Outcome.WAIVED  # a parameter of that test
    assert waive([fail], [scoped], "tests/acceptance/test_pop3.py::test_other") == [fail]
    assert waive([Verdict("POP-AUTH-4", Outcome.FAIL, "x")], [AUTH5], NODE)[0].outcome is Outcome.FAIL
    gap = Verdict("POP-AUTH-5", Outcome.INCONCLUSIVE, "no capture")
    assert waive([gap], [AUTH5], NODE) == [gap]  # missing evidence is not a deviation
    elsewhere = AUTH5.model_copy(update={"test": "test_never_run"})
    statuses = waiver_status([scoped, elsewhere], [(NODE, [gap]), ("t::other", [fail])])
    assert [s.status for s in statuses] == ["not judged", "not exercised"]


def test_console_shows_waived_criteria_apart(tmp_path: Path) -> None:
    waived = waive([Verdict("POP-AUTH-5", Outcome.FAIL, "reported as success")], [AUTH5], NODE)
    stale = Waiver(criterion="POP-AUTH-1", reason="r", reference="x.c:1")
    record = RunRecord("r", "team", tmp_path, 0.0, waivers=(AUTH5, stale), tests=[
        Record(NODE, verdicts=waived), Record("t::auth1", verdicts=[Verdict("POP-AUTH-1", Outcome.PASS, "ok")])])
    lines = render_summary(record)
    assert lines[0].startswith("PASS         POP-AUTH-1") and lines[1].startswith("WAIVED       POP-AUTH-5")
    assert any(ln.startswith("waivers (2 in the target file, 1 verdicts waived") for ln in lines)
    assert any(ln.strip().startswith("NEEDED") and "POP-AUTH-5" in ln for ln in lines)
    assert any(ln.strip().startswith("NO LONGER NEEDED") and "POP-AUTH-1" in ln for ln in lines)
    assert [w["status"] for w in record.to_dict()["waivers"]] == ["needed", "no longer needed"]

    skipped = Record("t::test_rset_undoes_dele", outcome="skipped",
                     error="Skipped: workload pop3-dele-rset needs pop3.noop, pop3.rset, which device netx does not declare")
    record.tests.append(skipped)
    assert "  test_rset_undoes_dele: workload pop3-dele-rset needs pop3.noop, pop3.rset, which device netx does not declare" \
        in render_summary(record)


def test_the_netxduo_example_waives_each_measured_deviation_at_its_source_line() -> None:
    cfg = load_target("netxduo-example")
    assert cfg.board.machine == "mps2-an385" and cfg.network.device_ip6 == "fec0::15"
    # NETXDUO-FINDINGS.md's table, less POP-TRANS-4 (optional verbs, not a waiver)
    assert {w.criterion for w in cfg.waiver} == {
        "POP-AUTH-5", "POP-TRANS-3", "POP-WIRE-3", "DEV-ROB-1", "SMTP-EHLO-1", "SMTP-MAIL-1", "SMTP-MAIL-2",
        "SMTP-WIRE-1", "SMTP-EHLO-2", "SMTP-AUTH-4", "SMTP-ERR-1", "SMTP-CONN-1"}
    assert all(w.reference.startswith("netxduo bd5d12e9 ") and "nx" in w.reference and ":" in w.reference
               for w in cfg.waiver)
    # a waiver scoped to a test names one the suite has (a renamed test would leave it unused)
    suite = "".join(p.read_text() for p in (project_root() / "tests" / "acceptance").glob("test_*.py"))
    for w in cfg.waiver:
        if w.test:
            assert f"def {w.test.split('[', 1)[0]}(" in suite, w.test
