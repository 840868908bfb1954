"""POP3 checks on evidence made by a real client (poplib) against the real
emulator: figures the application got are compared with what the server said."""
from __future__ import annotations

import hashlib
import poplib
import socket
import time
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome
from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.pop3 import Pop3Emulator
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Pop3ServerSpec, Workload

MESSAGES = (b"Subject: a\r\n\r\nhello\r\n", b"Subject: b\r\n\r\n.dotted\r\nend\r\n")
SPEC = Pop3ServerSpec({"u": ("pw", MESSAGES)})
INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "127.0.0.1", "")


def op(verb: str, ok: bool = True, data: bytes = b"", **fields: str) -> OpResult:
    return OpResult(verb, {}, ok, dict(fields), data, time.time(), time.time())


def judge(tmp_path: Path, client, steps: list[tuple[object, OpResult]], criteria: tuple[str, ...],  # type: ignore[no-untyped-def]
          faults: FaultPlan | None = None) -> list:
    with Pop3Emulator.from_spec(SPEC.maildrops, apop=False, faults=faults) as srv:
        client(srv.port)
        srv.wait_sessions(1, timeout=5)
        transcript = srv.transcript
    wl = Workload("t", "", tuple(s for s, _ in steps), criteria, pop3_server=SPEC)
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, (o,)) for s, o in steps], pop3=transcript)
    return judge_run(ev)


def poplib_session(port: int) -> None:
    p = poplib.POP3("127.0.0.1", port)
    p.user("u")
    p.pass_("pw")
    p.stat()
    p.list(2)
    p.retr(2)
    p.quit()


def steps(stat=("2", "0"), list_octets: str | None = None, retr: bytes = MESSAGES[1]):  # type: ignore[no-untyped-def]
    octets = str(sum(map(len, MESSAGES))) if stat[1] == "0" else stat[1]
    return [
        (Pop3Open("u", "pw"), op("pop3.open", auth="user")),
        (Pop3Op("stat"), op("pop3.stat", count=stat[0], octets=octets)),
        (Pop3Op("list", 2), op("pop3.list", n="2", octets=list_octets or str(len(MESSAGES[1])))),
        (Pop3Op("retr", 2), op("pop3.retr", data=retr, n="2", octets=str(len(retr)), md5=hashlib.md5(retr).hexdigest(), segments="1")),
        (Pop3Op("quit"), op("pop3.quit")),
    ]


CRITERIA = ("POP-AUTH-1", "POP-TRANS-1", "POP-TRANS-2", "POP-TRANS-3", "POP-TRANS-4")


def test_figures_as_the_server_said_pass(tmp_path: Path) -> None:
    verdicts = judge(tmp_path, poplib_session, steps(), CRITERIA)
    assert [v.criterion for v in verdicts] == [*CRITERIA, "POP-TRANS-4"]
    *transcript, closing = verdicts
    assert all(v.outcome is Outcome.PASS for v in transcript), [(v.criterion, v.evidence) for v in verdicts if not v.passed]
    # who closed is read from packets only: without a capture that part cannot be judged
    assert closing.outcome is Outcome.INCONCLUSIVE and "no capture" in closing.summary


def test_wrong_stat_count_fails_pop_trans_1(tmp_path: Path) -> None:
    verdicts = judge(tmp_path, poplib_session, steps(stat=("3", "0")), ("POP-TRANS-1",))
    assert verdicts[0].outcome is Outcome.FAIL and "+OK 2" in verdicts[0].evidence[0].excerpt


BIG = FaultPlan([FaultRule("STAT", "reply", line="+OK 70000 4000000000"),
                 FaultRule("LIST", "reply", line="+OK 2 3000000000")])


def test_figures_beyond_16_and_31_bits_pass_only_as_stated(tmp_path: Path) -> None:
    """STAT and LIST figures of a maildrop of gigabytes: judged digit for digit, so a client
    that keeps them in 16 bits (or signed 32) fails POP-TRANS-1 / POP-TRANS-2."""
    criteria = ("POP-TRANS-1", "POP-TRANS-2")
    right = judge(tmp_path, poplib_session, steps(stat=("70000", "4000000000"), list_octets="3000000000"), criteria, BIG)
    assert [v.outcome for v in right] == [Outcome.PASS, Outcome.PASS], [v.evidence for v in right]
    cut = judge(tmp_path, poplib_session, steps(stat=("4464", str(4000000000 % 65536)), list_octets=str(-(2**32 - 3000000000))),
                criteria, BIG)
    assert [v.outcome for v in cut] == [Outcome.FAIL, Outcome.FAIL]
    assert "+OK 70000 4000000000" in cut[0].evidence[0].excerpt


def test_wrong_list_size_fails_pop_trans_2(tmp_path: Path) -> None:
    verdicts = judge(tmp_path, poplib_session, steps(list_octets="999"), ("POP-TRANS-2",))
    assert verdicts[0].outcome is Outcome.FAIL


def test_stuffed_message_fails_pop_trans_3(tmp_path: Path) -> None:
    verdicts = judge(tmp_path, poplib_session, steps(retr=MESSAGES[1].replace(b".dotted", b"..dotted")), ("POP-TRANS-3",))
    assert verdicts[0].outcome is Outcome.FAIL and "differs at octet" in verdicts[0].evidence[0].excerpt


def digest_only(message: bytes) -> OpResult:
    """``pop3.retr`` without ``mode=data``: the device reports only what it delivered."""
    return op("pop3.retr", n="2", octets=str(len(message)), md5=hashlib.md5(message).hexdigest(), segments="1")


def test_digest_of_the_right_message_passes_pop_trans_3(tmp_path: Path) -> None:
    run = steps()
    run[3] = (run[3][0], digest_only(MESSAGES[1]))
    verdicts = judge(tmp_path, poplib_session, run, ("POP-TRANS-3",))
    assert verdicts[0].outcome is Outcome.PASS, verdicts[0].evidence


def test_wrong_digest_fails_pop_trans_3_with_the_bytes_fetched_after_it_as_a_diff(tmp_path: Path) -> None:
    stuffed = MESSAGES[1].replace(b".dotted", b"..dotted")
    run = steps()
    verdicts = judge(tmp_path, poplib_session, [*run[:3], (run[3][0], digest_only(stuffed)), run[4]], ("POP-TRANS-3",))
    assert verdicts[0].outcome is Outcome.FAIL and "the server holds" in verdicts[0].evidence[0].excerpt
    refetched = steps(retr=stuffed)[3][1]
    wl = Workload("t", "", tuple(s for s, _ in run), ("POP-TRANS-3",), pop3_server=SPEC)
    with Pop3Emulator.from_spec(SPEC.maildrops, apop=False) as srv:
        poplib_session(srv.port)
        srv.wait_sessions(1, timeout=5)
    ops = [(o,) for _, o in run]
    ops[3] = (digest_only(stuffed), refetched)
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, o) for (s, _), o in zip(run, ops)], pop3=srv.transcript)
    verdict = judge_run(ev)[0]
    assert verdict.outcome is Outcome.FAIL and "differs at octet" in verdict.evidence[0].excerpt
    assert "the server holds" in verdict.evidence[1].excerpt


def test_transaction_before_login_fails_pop_auth_1(tmp_path: Path) -> None:
    def rude(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            f = s.makefile("rwb")
            f.readline()
            for cmd in (b"STAT\r\n", b"USER u\r\n", b"PASS pw\r\n", b"QUIT\r\n"):
                f.write(cmd)
                f.flush()
                f.readline()

    verdicts = judge(tmp_path, rude, steps()[:1], ("POP-AUTH-1",))
    assert verdicts[0].outcome is Outcome.FAIL
    assert "transaction command before authentication" in verdicts[0].evidence[0].excerpt
