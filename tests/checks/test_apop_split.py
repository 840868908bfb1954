"""POP-AUTH-2 when the APOP greeting reaches the client one octet per segment: the
timestamp is in the greeting however it was split, so a client that logs in with
USER/PASS instead of APOP fails, and one that sends the right digest passes."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.capture.synth import Conversation, Trace
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome, Verdict
from bench.servers.transcript import Session, Transcript
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Workload

INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", "")
STAMP = b"<1896.697170952@dbc.mtview.ca.us>"
DIGEST = hashlib.md5(STAMP + b"tanstaaf").hexdigest().encode()


def _op(verb: str, **fields: str) -> OpResult:
    return OpResult(verb, {}, True, dict(fields), b"", time.time(), time.time())


def _judge(tmp_path: Path, login: tuple[bytes, ...], seg: int = 1) -> Verdict:
    trace = Trace()
    c = Conversation(trace, ("10.0.2.15", 49200), ("10.0.2.2", 110))
    c.handshake()
    c.send("s", b"+OK POP3 server ready " + STAMP + b"\r\n", seg=seg)
    for cmd in (*login, b"QUIT\r\n"):
        c.send("c", cmd)
        c.send("s", b"+OK\r\n", seg=seg)
    c.close("c")
    steps = [(Pop3Open("mrose", "tanstaaf", apop=True), _op("pop3.open", auth="apop" if len(login) == 1 else "user")),
             (Pop3Op("quit"), _op("pop3.quit"))]
    wl = Workload("apop-split", "", tuple(s for s, _ in steps), ("POP-AUTH-2",))
    session = Session(1, "pop3", "10.0.2.15:49200", time.time())
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, (o,)) for s, o in steps],
                     pop3=Transcript("pop3", [session]), pcap=trace.write(tmp_path / "wire.pcap"),
                     server_ports={"pop3": 110})
    (verdict,) = judge_run(ev)
    return verdict


def test_apop_after_a_split_greeting_passes(tmp_path: Path) -> None:
    v = _judge(tmp_path, (b"APOP mrose " + DIGEST + b"\r\n",))
    assert v.outcome is Outcome.PASS, v


def test_user_pass_after_a_split_greeting_with_a_timestamp_fails(tmp_path: Path) -> None:
    v = _judge(tmp_path, (b"USER mrose\r\n", b"PASS tanstaaf\r\n"))
    assert v.outcome is Outcome.FAIL and "no APOP sent" in v.evidence[0].excerpt, v


def test_user_pass_after_a_whole_greeting_fails_the_same(tmp_path: Path) -> None:
    assert _judge(tmp_path, (b"USER mrose\r\n", b"PASS tanstaaf\r\n"), seg=1460).outcome is Outcome.FAIL
