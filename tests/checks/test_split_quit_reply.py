"""The closing rule when the reply to QUIT arrives one octet per segment (the split
workloads of the suite, POP-WIRE-3 / SMTP-EHLO-1): a client that closes on the first
octet of the reply has closed before the reply fully arrived, and fails; one that waits
for the whole line passes. Constructed captures, judged by bench.checks.closing."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.capture.synth import Conversation, Trace
from bench.checks.closing import CLOSING_CHECKS
from bench.checks.verdict import Verdict

sys.path.insert(0, str(Path(__file__).parents[1] / "capture"))
from capture_helpers import LIMITS, Judged, exchange, pop3_open, smtp_mail, smtp_open  # noqa: E402

REPLY = {"pop3": b"+OK bye\r\n", "smtp": b"221 2.0.0 bye\r\n"}


def _session(t: Trace, protocol: str) -> Conversation:
    if protocol == "smtp":
        c = smtp_open(t)
        smtp_mail(c)
        return c
    c = pop3_open(t)
    for cmd in (b"USER u\r\n", b"PASS p\r\n"):
        exchange(c, cmd, b"+OK\r\n")
    return c


def _quit_split(t: Trace, protocol: str, fin_after: int) -> tuple[int, int]:
    """QUIT, then its reply one octet per segment with the client's FIN after ``fin_after``
    octets; returns (the FIN's frame, the reply's last frame)."""
    c = _session(t, protocol)
    c.send("c", b"QUIT\r\n")
    reply = REPLY[protocol]
    frames = [c.send("s", reply[:fin_after], seg=1, ack=False)[-1]]
    fin = c.packet("c", flags="FA")
    if fin_after < len(reply):
        frames.append(c.send("s", reply[fin_after:], seg=1, ack=False)[-1])
    c.packet("s", flags="FA")
    c.packet("c", flags="A")
    return fin, frames[-1]


def _verdicts(tmp_path: Path, t: Trace, protocol: str) -> list[Verdict]:
    j = Judged(t, tmp_path / "wire.pcap", LIMITS)
    if protocol == "pop3":
        return CLOSING_CHECKS["POP-TRANS-4"](j.connections, LIMITS, j.path)
    return [j.one("SMTP-CONN-1"), j.one("SMTP-MAIL-1")]


@pytest.mark.parametrize("protocol", ["pop3", "smtp"])
def test_fin_on_the_first_octet_of_a_split_quit_reply_fails(tmp_path: Path, protocol: str) -> None:
    t = Trace()
    fin, last = _quit_split(t, protocol, fin_after=1)
    for v in _verdicts(tmp_path, t, protocol):
        assert v.outcome.value == "fail", v
        bad = [e for e in v.evidence if "closed before" in e.excerpt]
        assert bad and bad[0].packets == (fin, last), v.evidence


@pytest.mark.parametrize("protocol", ["pop3", "smtp"])
def test_fin_after_the_last_octet_of_a_split_quit_reply_passes(tmp_path: Path, protocol: str) -> None:
    t = Trace()
    _quit_split(t, protocol, fin_after=len(REPLY[protocol]))
    for v in _verdicts(tmp_path, t, protocol):
        assert v.outcome.value == "pass", v
