"""Cascades: one defect judged once, by the criterion it breaks; what it drags along is
marked as following from it, and reported after it."""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.capture.synth import Conversation, Trace
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome, Verdict
from bench.pytest_bench import explain
from bench.report.console import render_summary
from bench.report.store import RunRecord
from bench.report.store import TestRecord as Record
from bench.servers.transcript import Session, Transcript
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Workload

sys.path.insert(0, str(Path(__file__).parents[1] / "capture"))
from capture_helpers import LIMITS, Judged, exchange, smtp_open, smtp_to_data  # noqa: E402

INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", "")


def _unstuffed_session(t: Trace) -> Conversation:
    """The body holds a lone '.' line sent as is: the server ends DATA there and answers the rest line by line."""
    c = smtp_open(t)
    smtp_to_data(c)
    c.send("c", b"Subject: t\r\n\r\nbefore\r\n.\r\nafter the dot\r\nmore text\r\n.\r\n")
    for reply in (b"250 queued\r\n", b"500 unknown command\r\n", b"500 unknown command\r\n", b"500 unknown command\r\n"):
        c.send("s", reply)
    exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    c.close("c")
    return c


def test_missing_dot_stuffing_is_not_pipelining(tmp_path: Path) -> None:
    t = Trace()
    _unstuffed_session(t)
    v = Judged(t, tmp_path / "wire.pcap", LIMITS).one("SMTP-WIRE-1")
    assert v.outcome is Outcome.INCONCLUSIVE and v.follows == "SMTP-MAIL-2"
    assert "end of DATA" in v.follows_reason and "3 body line(s)" in v.summary
    assert v.evidence[0].excerpt.endswith(".\\r\\n") and v.evidence[0].packets


def test_real_pipelining_after_data_stays_a_root_failure(tmp_path: Path) -> None:
    t = Trace()
    c = smtp_open(t)
    smtp_to_data(c)
    c.send("c", b"Subject: t\r\n\r\nbody\r\n.\r\n", ack=False)
    c.send("c", b"QUIT\r\n")  # before the 250
    c.send("s", b"250 queued\r\n")
    c.send("s", b"221 bye\r\n")
    c.close("c")
    v = Judged(t, tmp_path / "wire.pcap", LIMITS).one("SMTP-WIRE-1")
    assert v.outcome is Outcome.FAIL and v.follows is None


def test_lf_only_pop3_commands_fail_pop_wire_1_not_pop_auth_2(tmp_path: Path) -> None:
    stamp, password = b"<1896.697170952@dbc.mindspring.com>", "tanstaaf"
    digest = hashlib.md5(stamp + password.encode()).hexdigest().encode()
    t = Trace()
    c = Conversation(t, ("10.0.2.15", 49200), ("10.0.2.2", 110))
    c.handshake()
    c.send("s", b"+OK POP3 server ready " + stamp + b"\r\n")
    exchange(c, b"APOP mrose " + digest + b"\n", b"+OK maildrop has 0 messages\r\n")
    exchange(c, b"QUIT\n", b"+OK bye\r\n")
    c.close("c")
    steps = [(Pop3Open("mrose", password, apop=True), "pop3.open"), (Pop3Op("quit"), "pop3.quit")]
    wl = Workload("lf", "", tuple(s for s, _ in steps), ("POP-AUTH-2", "POP-WIRE-1"))
    session = Session(1, "pop3", "10.0.2.15:49200", time.time())
    ev = RunEvidence(wl, tmp_path, INFO, 1500,
                     steps=[StepResult(s, (OpResult(verb, {}, True, {}, b"", 0.0, 0.0),)) for s, verb in steps],
                     pop3=Transcript("pop3", [session]), pcap=t.write(tmp_path / "wire.pcap"),
                     server_ports={"pop3": 110})
    auth, wire = judge_run(ev)
    assert auth.criterion == "POP-AUTH-2" and auth.outcome is Outcome.PASS, auth.evidence
    assert "POP-WIRE-1 judges that" in auth.evidence[0].excerpt
    assert wire.outcome is Outcome.FAIL and "bare LF" in wire.evidence[0].excerpt


def test_roots_are_explained_and_summarised_before_their_consequences(tmp_path: Path) -> None:
    consequence = Verdict("SMTP-WIRE-1", Outcome.INCONCLUSIVE, "lines read as commands",
                          follows="SMTP-MAIL-2", follows_reason="a '.' line ended DATA")
    root = Verdict("SMTP-MAIL-2", Outcome.FAIL, "body not dot-stuffed")
    text = explain([consequence, root]).splitlines()
    assert text[0].startswith("[SMTP-MAIL-2] FAIL")
    assert text[1].startswith("[SMTP-WIRE-1] INCONCLUSIVE") and "follows from SMTP-MAIL-2: a '.' line" in text[1]
    record = RunRecord("r", "t", tmp_path, 0.0, tests=[Record("t::x", verdicts=[consequence, root]),
                                                        Record("t::y", verdicts=[Verdict("NET-WIRE-1", Outcome.PASS, "ok")])])
    lines = render_summary(record)
    assert lines[0].startswith("FAIL         SMTP-MAIL-2") and lines[2].startswith("INCONCLUSIVE SMTP-WIRE-1")
    assert "(follows from SMTP-MAIL-2" in lines[3] and lines[4].startswith("PASS         NET-WIRE-1")
    assert record.to_dict()["tests"][0]["verdicts"][0]["follows"] == "SMTP-MAIL-2"


def test_closing_after_a_spill_follows_from_smtp_mail_2(tmp_path: Path) -> None:
    """The device's QUIT meets the 500 for a body line and it closes; the real 221 comes after."""
    t = Trace()
    c = smtp_open(t)
    smtp_to_data(c)
    c.send("c", b"Subject: t\r\n\r\nbefore\r\n.\r\nafter the dot\r\n.\r\n")
    c.send("s", b"250 queued\r\n")
    c.send("c", b"QUIT\r\n", ack=False)
    c.send("s", b"500 unknown command\r\n")
    fin = c.packet("c", flags="FA")
    c.send("s", b"500 unknown command\r\n221 bye\r\n", ack=False)
    c.packet("s", flags="FA")
    j = Judged(t, tmp_path / "wire.pcap", LIMITS)
    for cid in ("SMTP-CONN-1", "SMTP-MAIL-1"):
        v = j.one(cid)
        assert v.outcome is Outcome.INCONCLUSIVE and v.follows == "SMTP-MAIL-2", v
        assert fin in v.evidence[0].packets and "end of DATA" in v.follows_reason
