"""POP-WIRE-3 on constructed captures: replies split one octet per segment must give
the device the results of the whole replies; a split that never reached the wire
proves nothing."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.capture.synth import Conversation, Trace
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome, Verdict
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Pop3Op, Pop3Open, Workload

INFO = DeviceInfo("t/1", "b", frozenset(), DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", "")
MESSAGE = b"Subject: s\r\n\r\n.leading dot\r\nend\r\n"
STUFFED = MESSAGE.replace(b"\r\n.", b"\r\n..")


def _op(verb: str, ok: bool = True, data: bytes = b"", **fields: str) -> OpResult:
    return OpResult(verb, {}, ok, dict(fields), data, time.time(), time.time())


def _capture(path: Path, seg: int) -> Path:
    """Greeting, USER, PASS, STAT, RETR 1, QUIT; every reply in segments of ``seg`` octets."""
    trace = Trace()
    c = Conversation(trace, ("10.0.2.15", 49200), ("10.0.2.2", 110))
    c.handshake()
    c.send("s", b"+OK POP3 ready <1.2@test>\r\n", seg=seg)
    for cmd, reply in ((b"USER u\r\n", b"+OK\r\n"), (b"PASS p\r\n", b"+OK in\r\n"),
                       (b"STAT\r\n", b"+OK 1 %d\r\n" % len(MESSAGE)),
                       (b"RETR 1\r\n", b"+OK\r\n" + STUFFED + b".\r\n"), (b"QUIT\r\n", b"+OK bye\r\n")):
        c.send("c", cmd)
        c.send("s", reply, seg=seg)
    c.close("c")
    return trace.write(path)


def _judge(tmp_path: Path, seg: int, count: str = "1", retr: bytes = MESSAGE) -> Verdict:
    steps = [
        (Pop3Open("u", "p"), _op("pop3.open", auth="user")),
        (Pop3Op("stat"), _op("pop3.stat", count=count, octets=str(len(MESSAGE)))),
        (Pop3Op("retr", 1), _op("pop3.retr", data=retr, n="1", octets=str(len(retr)),
                                md5=hashlib.md5(retr).hexdigest(), segments="1")),
        (Pop3Op("quit"), _op("pop3.quit")),
    ]
    wl = Workload("split", "", tuple(s for s, _ in steps), ("POP-WIRE-3",))
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=[StepResult(s, (o,)) for s, o in steps],
                     pcap=_capture(tmp_path / "wire.pcap", seg), server_ports={"pop3": 110})
    (verdict,) = judge_run(ev)
    return verdict


def test_octet_split_replies_with_right_results_pass(tmp_path: Path) -> None:
    v = _judge(tmp_path, seg=1)
    assert v.outcome is Outcome.PASS, v
    assert {m.name: m.value for m in v.measurements}["replies split one octet per segment"] == 6
    assert [e.excerpt.split(" reply")[0] for e in v.evidence] == ["greeting", "single-line", "multi-line"]
    assert all(e.packets and e.artifact == tmp_path / "wire.pcap" for e in v.evidence)


def test_a_figure_differing_from_the_whole_reply_fails(tmp_path: Path) -> None:
    v = _judge(tmp_path, seg=1, count="0")
    assert v.outcome is Outcome.FAIL
    assert "+OK 1 " in v.evidence[0].excerpt and "count" in v.evidence[0].excerpt
    assert v.evidence[0].packets and v.evidence[1].source == "uart"


def test_a_multiline_body_parsed_wrong_when_split_fails(tmp_path: Path) -> None:
    v = _judge(tmp_path, seg=1, retr=MESSAGE[:-5])
    assert v.outcome is Outcome.FAIL and "md5" in v.evidence[0].excerpt


def test_replies_never_split_on_the_wire_are_inconclusive(tmp_path: Path) -> None:
    v = _judge(tmp_path, seg=1460)
    assert v.outcome is Outcome.INCONCLUSIVE and "no reply was split" in v.summary
    assert [e.excerpt.split(" reply")[0] for e in v.evidence] == ["greeting", "single-line", "multi-line"]
    assert all(len(e.packets) == 1 and "in one segment" in e.excerpt for e in v.evidence)


def test_a_kind_never_split_is_inconclusive(tmp_path: Path) -> None:
    v = _judge(tmp_path, seg=12)  # only the greeting and the multi-line reply exceed 12 octets
    assert v.outcome is Outcome.INCONCLUSIVE and "single-line" in v.summary
