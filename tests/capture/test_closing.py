"""Closing order on constructed captures: who sent the first FIN or RST, and whether the
client's FIN acknowledged the whole final reply (bench.checks.closing)."""
from __future__ import annotations

from capture_helpers import LIMITS, exchange, pop3_open, smtp_mail, smtp_open

from bench.capture.synth import Conversation, Trace
from bench.checks.closing import CLOSING_CHECKS
from bench.checks.verdict import Verdict


def _closing(j, criterion: str = "SMTP-ERR-1") -> Verdict:  # type: ignore[no-untyped-def]
    (v,) = CLOSING_CHECKS[criterion](j.connections, LIMITS, j.path)
    return v


def test_correct_close_after_221_passes_every_closing_criterion(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    _, reply = exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    fin = c.close("c")[0]
    j = judge_trace(t)
    for cid in ("SMTP-CONN-1", "SMTP-MAIL-1", "NET-WIRE-2"):
        assert j.one(cid).outcome.value == "pass", j.one(cid)
    v = _closing(j)
    assert v.outcome.value == "pass" and v.evidence[0].packets == (fin,)
    assert "221 bye" in v.evidence[0].excerpt and "fully arrived" in v.evidence[0].excerpt
    acked = {m.name: m for m in v.measurements}["server octets the client had received when it closed"]
    assert acked.passes() and acked.value == acked.limit == len(j.connections[0].s2c.stream)


def test_fin_before_the_221_arrived_fails(judge_trace) -> None:
    """QUIT then FIN at once: the 221 is in the capture, after a FIN that did not acknowledge it."""
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    c.send("c", b"QUIT\r\n", ack=False)
    fin = c.packet("c", flags="FA")
    reply = c.send("s", b"221 bye\r\n", ack=False)[0]
    c.packet("s", flags="FA")
    c.packet("c", flags="A")
    j = judge_trace(t)
    for cid in ("SMTP-CONN-1", "SMTP-MAIL-1"):
        v = j.one(cid)
        assert v.outcome.value == "fail", v
        bad = [e for e in v.evidence if "closed before" in e.excerpt]
        assert bad and bad[0].packets == (fin, reply) and "221 bye" in bad[0].excerpt
    assert _closing(j).outcome.value == "fail"
    assert j.connections[0].closed_by == "client"  # what the old check believed


def test_no_close_the_server_gives_up_fails(judge_trace) -> None:
    """554 to DATA, no QUIT, no FIN: the server closes after its timeout."""
    t = Trace()
    c = smtp_open(t)
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n")
    exchange(c, b"RCPT TO:<b@test>\r\n", b"250 ok\r\n")
    exchange(c, b"DATA\r\n", b"554 no valid recipients\r\n")
    server_fin = c.packet("s", flags="FA")
    c.packet("c", flags="A")
    j = judge_trace(t)
    v = _closing(j)
    assert v.outcome.value == "fail"
    assert "left for the server to close" in v.evidence[0].excerpt and v.evidence[0].packets == (server_fin,)
    assert "the client never closed its side" in v.evidence[1].excerpt
    assert j.one("SMTP-CONN-1").outcome.value == "fail"
    # NET-WIRE-2 leaves the error path's close to the protocol's rule
    assert j.one("NET-WIRE-2").outcome.value == "pass" and "error path" in j.one("NET-WIRE-2").summary


def test_client_fin_only_after_the_server_gave_up_fails(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    c.close("s")
    j = judge_trace(t)
    v = j.one("SMTP-CONN-1")
    assert v.outcome.value == "fail" and any("left for the server" in e.excerpt for e in v.evidence)


def test_rst_after_an_error_fails_the_closing_rule_not_net_wire_2(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"550 sender refused\r\n")
    rst = c.reset("c")
    j = judge_trace(t)
    v = _closing(j)
    assert v.outcome.value == "fail" and v.evidence[0].packets == (rst,)
    assert "instead of closing it with its own FIN" in v.evidence[0].excerpt
    nw2 = j.one("NET-WIRE-2")
    assert nw2.outcome.value == "pass" and "550 sender refused" in nw2.summary
    assert nw2.evidence[-1].packets == (rst,)


def test_rst_on_the_normal_path_still_fails_net_wire_2(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    rst = c.reset("c")
    j = judge_trace(t)
    assert j.one("NET-WIRE-2").outcome.value == "fail" and j.failed_packets("NET-WIRE-2")[0] == (rst,)
    assert _closing(j).outcome.value == "fail"


def test_server_drop_mid_exchange_needs_the_clients_own_fin(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    c.send("c", b"MAIL FROM:<a@dev>\r\n")
    c.packet("s", flags="FA")  # dropped while the client waits for the reply to MAIL
    fin = c.packet("c", flags="FA")
    j = judge_trace(t)
    v = _closing(j)
    assert v.outcome.value == "pass" and "dropped" in v.evidence[0].excerpt and v.evidence[0].packets == (fin,)


def test_421_lets_the_server_close_first(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"421 shutting down\r\n")
    c.close("s")
    assert _closing(judge_trace(t)).outcome.value == "pass"


def test_no_reply_to_quit_the_client_closes_after_its_timeout(judge_trace) -> None:
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    c.send("c", b"QUIT\r\n")
    c.close("c")
    v = _closing(judge_trace(t))
    assert v.outcome.value == "pass" and "never came" in v.evidence[0].excerpt


def _pop3_logged_in(t: Trace) -> Conversation:
    c = pop3_open(t)
    for cmd in (b"USER u\r\n", b"PASS p\r\n"):
        exchange(c, cmd, b"+OK\r\n")
    return c


def test_pop3_fin_before_the_quit_reply_fails_pop_trans_4(judge_trace) -> None:
    t = Trace()
    c = _pop3_logged_in(t)
    c.send("c", b"QUIT\r\n", ack=False)
    fin = c.packet("c", flags="FA")
    c.send("s", b"+OK bye\r\n", ack=False)
    c.packet("s", flags="FA")
    j = judge_trace(t)
    v = _closing(j, "POP-TRANS-4")
    assert v.outcome.value == "fail" and v.evidence[0].packets[0] == fin and "+OK bye" in v.evidence[0].excerpt


def test_pop3_close_after_the_quit_reply_passes(judge_trace) -> None:
    t = Trace()
    c = _pop3_logged_in(t)
    exchange(c, b"QUIT\r\n", b"+OK bye\r\n")
    c.close("c")
    assert _closing(judge_trace(t), "POP-TRANS-4").outcome.value == "pass"
