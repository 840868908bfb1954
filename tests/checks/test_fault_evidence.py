"""Fault evidence on constructed runs: a verdict about a fault passes only when the fault
happened. Transcripts come from the real POP3 emulator driven by a raw client; the
captures are built from those transcripts, packet by packet, so each test can take
away exactly one piece of evidence (the hit, the command on the wire, the split)."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.capture.synth import Conversation, Trace
from bench.checks.catalogue import judge_run
from bench.checks.fault_evidence import FAULT_CRITERIA, missing
from bench.checks.context import CheckContext
from bench.checks.verdict import Outcome, Verdict
from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator
from bench.servers.transcript import Transcript
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Pop3ServerSpec, Workload

INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", "")
M1 = b"Subject: one\r\n\r\nbody one\r\n"
M3 = b"Subject: three\r\n\r\nbody three\r\n"


def _op(verb: str, ok: bool = True, **fields: str) -> OpResult:
    return OpResult(verb, {}, ok, dict(fields), b"", time.time(), time.time())


def _talk(plan: list[FaultRule], commands: list[bytes]) -> Transcript:
    """One real session on the emulator: log in, the commands, QUIT (stopping at a reset)."""
    with Pop3Emulator(maildrops={"u": Maildrop(password="p", messages=[M1, M1, M3])}, faults=plan,
                      quit_wait=0.2, seed=1) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=0.5)
        f = s.makefile("rb")
        f.readline()
        try:
            for cmd in [b"USER u", b"PASS p", *commands, b"QUIT"]:
                s.sendall(cmd + b"\r\n")
                first = f.readline()
                if cmd.startswith(b"RETR") and first.startswith(b"+OK"):
                    while f.readline() not in (b".\r\n", b""):
                        pass
        except OSError:  # reset, or a reply that never ends (the read times out)
            pass
        f.close()
        s.close()
        assert srv.wait_sessions(1, 5)
        return srv.transcript


def _pcap(path: Path, transcript: Transcript, *, drop: bytes = b"", seg: int = 1460, end: str = "",
          shorten: bytes = b"") -> Path:
    """The session as the wire would carry it, from the transcript (``drop``: a client line left out;
    ``end``: how it ends, else as the server's last fault ended it: its RST, its FIN, or the client's FIN)."""
    trace = Trace()
    c = Conversation(trace, ("10.0.2.15", 49200), ("10.0.2.2", 110))
    c.handshake()
    pending = b""
    for ln in transcript.sessions[0].lines:
        if ln.direction == "s>c":
            pending += ln.data
            continue
        if pending:
            c.send("s", pending.replace(shorten, b"\r\n") if shorten else pending, seg=seg)
            pending = b""
        if ln.direction == "c>s" and ln.data != drop:
            c.send("c", ln.data)
    if pending:
        c.send("s", pending, seg=seg)
    session = transcript.sessions[0]
    last = session.hits[-1].action if session.hits and session.closed_by == "server" else ""
    end = end or {"reset": "rst", "close": "server-fin"}.get(last, "client-fin")
    if end == "rst":
        c.reset("s")
    else:
        c.close("s" if end == "server-fin" else "c")
    return trace.write(path)


def _run(tmp_path: Path, plan: list[FaultRule], commands: list[bytes], *, drop: bytes = b"", seg: int = 1460,
         end: str = "", shorten: bytes = b"",
         criteria: tuple[str, ...] = ("DEV-ROB-1",), retr_ok: bool = False,
         device_ok: bool | None = None) -> RunEvidence:
    transcript = _talk(plan, commands)
    transcript.write(tmp_path / "pop3-transcript.txt")
    steps = [
        (Pop3Open("u", "p"), _op("pop3.open", auth="user")),
        (Pop3Op("retr", 3, expect="ok" if retr_ok else "err"),
         _op("pop3.retr", ok=retr_ok if device_ok is None else device_ok, **({} if retr_ok else {"code": "closed"}))),
        (Pop3Open("u", "p"), _op("pop3.open", auth="user")),
        (Pop3Op("stat"), _op("pop3.stat", count="3", octets="80")),
    ]
    wl = Workload("fault", "", tuple(s for s, _ in steps), criteria,
                  pop3_server=Pop3ServerSpec(faults=FaultPlan(plan)))
    return RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, (o,)) for s, o in steps], pop3=transcript,
                       pcap=_pcap(tmp_path / "wire.pcap", transcript, drop=drop, seg=seg, end=end,
                                  shorten=shorten),
                       server_ports={"pop3": 110})


def _dev_rob_1(ev: RunEvidence) -> Verdict:
    (v,) = judge_run(ev)
    return v


RESET_RETR3 = FaultRule("RETR", "reset", size=20, arg="3")


def test_fired_and_on_the_wire_passes(tmp_path: Path) -> None:
    v = _dev_rob_1(_run(tmp_path, [RESET_RETR3], [b"STAT", b"RETR 3"]))
    assert v.outcome is Outcome.PASS, v


def test_a_rule_that_never_fired_is_inconclusive(tmp_path: Path) -> None:
    """The NetX Duo case: the device reported an error but never sent the RETR the plan targets."""
    ev = _run(tmp_path, [RESET_RETR3], [b"STAT", b"RETR 1"])
    v = _dev_rob_1(ev)
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "rule 1 (RETR 3 reset size=20) never fired: the device never sent RETR 3" in v.summary
    assert v.evidence[0].source == "transcript" and v.evidence[0].artifact == tmp_path / "pop3-transcript.txt"


def test_a_count_never_reached_says_so(tmp_path: Path) -> None:
    ev = _run(tmp_path, [FaultRule("RETR", "reset", nth=2, scope="server")], [b"RETR 3"])
    (gap,) = missing(CheckContext(ev))
    assert gap.excerpt.endswith("RETR was sent 1 time(s), the rule waits for its #2 in the server")


def test_a_hit_whose_command_is_not_on_the_wire_is_inconclusive(tmp_path: Path) -> None:
    v = _dev_rob_1(_run(tmp_path, [RESET_RETR3], [b"RETR 3"], drop=b"RETR 3\r\n"))
    assert v.outcome is Outcome.INCONCLUSIVE
    assert "fired on 'RETR 3'" in v.summary and "b'RETR 3' is not in the client's stream on the wire" in v.summary
    assert v.evidence[0].source == "pcap"


def test_each_action_shows_on_the_wire_or_the_verdict_says_it_did_not(tmp_path: Path) -> None:
    """The server side of the capture must show what the action's name says."""
    cases = [
        ([RESET_RETR3], [b"RETR 3"], {"end": "client-fin"}, ["no RST from the server on the wire"]),
        ([FaultRule("RETR", "close", size=20)], [b"RETR 3"], {"end": "rst"}, ["no FIN from the server on the wire"]),
        ([FaultRule("STAT", "overlong", size=300)], [b"STAT"], {}, []),
        ([FaultRule("STAT", "overlong", size=300)], [b"STAT"], {"shorten": b"X" * 10 + b"\r\n"},
         ["its first line is 290 octets on the wire, not 300"]),
        ([FaultRule("STAT", "no_crlf")], [b"STAT"], {}, []),
        ([FaultRule("RETR", "no_terminator")], [b"RETR 3"], {}, []),
    ]
    for k, (plan, commands, kw, want) in enumerate(cases):
        (tmp_path / str(k)).mkdir()
        gaps = [e.excerpt for e in missing(CheckContext(_run(tmp_path / str(k), plan, commands, **kw)))]
        assert len(gaps) == len(want) and all(g.endswith(w) for g, w in zip(gaps, want)), (k, gaps)


def test_a_split_coalesced_on_the_wire_is_inconclusive(tmp_path: Path) -> None:
    plan = [FaultRule("STAT", "split", size=1)]
    ok = _run(tmp_path, plan, [b"STAT", b"RETR 3"], seg=1, criteria=("POP-WIRE-3",), retr_ok=True)
    assert missing(CheckContext(ok)) == []
    (tmp_path / "b").mkdir()
    ev = _run(tmp_path / "b", plan, [b"STAT", b"RETR 3"], criteria=("DEV-ROB-1",))
    (gap,) = missing(CheckContext(ev))
    assert "crossed the wire in segments of [" in gap.excerpt and "the split did not happen on the wire" in gap.excerpt
    assert gap.packets and _dev_rob_1(ev).outcome is Outcome.INCONCLUSIVE


def test_a_fail_stays_a_fail_and_other_criteria_are_untouched(tmp_path: Path) -> None:
    ev = _run(tmp_path, [RESET_RETR3], [b"RETR 1"], device_ok=True)  # ok where an error was expected
    assert _dev_rob_1(ev).outcome is Outcome.FAIL
    assert "POP-TRANS-1" not in FAULT_CRITERIA and {"DEV-ROB-1", "SMTP-ERR-1", "POP-AUTH-5"} <= FAULT_CRITERIA


def test_no_plan_no_guard(tmp_path: Path) -> None:
    ev = _run(tmp_path, [], [b"RETR 3"])
    assert missing(CheckContext(ev)) == []


def test_smtp_auth_refusal_needs_the_auth_command_on_the_wire(tmp_path: Path) -> None:
    """The SASL line is a secret (redacted in the transcript): the AUTH command stands for it."""
    import smtplib

    from bench.servers.smtp import SmtpEmulator
    from bench.workload.model import Mail, SendMail, SmtpServerSpec

    plan = [FaultRule("auth-reply", "reply", line="535 5.7.8 no", nth=1, scope="server")]
    with SmtpEmulator(users={"device": "pw"}, faults=plan, quit_wait=0.2) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="board.test", timeout=5) as s:
            s.ehlo()
            s.user, s.password = "device", "pw"
            try:
                s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            except smtplib.SMTPAuthenticationError:
                pass
        assert srv.wait_sessions(1, 5)
    transcript = srv.transcript
    wl = Workload("auth", "", (SendMail(Mail("a@b", "s", b"x\r\n"), expect="err", stage="auth"),), ("SMTP-AUTH-3",),
                  smtp_server=SmtpServerSpec(faults=FaultPlan(plan)))

    def gaps(drop: bytes) -> list[str]:
        ev = RunEvidence(wl, tmp_path, INFO, 1500, smtp=transcript, server_ports={"smtp": 110},
                         pcap=_pcap(tmp_path / "wire.pcap", transcript, drop=drop))
        return [e.excerpt for e in missing(CheckContext(ev))]

    assert gaps(b"") == []
    (gap,) = gaps(b"AUTH LOGIN\r\n")
    assert "fired on '********'" in gap and "b'AUTH' is not in the client's stream" in gap
