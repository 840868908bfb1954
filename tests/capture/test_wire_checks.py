"""Wire checks on scapy-built captures whose every violation is known in advance."""
from __future__ import annotations

from dataclasses import replace

from capture_helpers import DEV, LIMITS, SRV, exchange, pop3_open, smtp_mail, smtp_open, smtp_quit, smtp_to_data

from bench.capture.synth import Conversation, Trace
from bench.checks.wire import smtp_conn_1

CLEAN_SMTP = {"NET-WIRE-1": "pass", "NET-WIRE-2": "pass", "SMTP-WIRE-1": "pass", "SMTP-CONN-1": "pass",
              "SMTP-MAIL-1": "pass", "SMTP-MAIL-3": "pass"}


def test_clean_smtp_session_passes_everything(judge_trace):
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c, body=(b"x" * 998 + b"\r\n") * 4, seg=1024)
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == CLEAN_SMTP
    assert all(v.subject == f"connection {DEV}:49153 -> {SRV}:25" for v in j.verdicts)
    assert j.one("SMTP-MAIL-3").measurements[0].value == 1024


def test_retransmitted_and_reordered_segments_are_not_violations(judge_trace):
    t = Trace()
    c = smtp_open(t)
    exchange(c, b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n")
    rcpt = c.packet("c", b"RCPT TO:<b@test>\r\n")
    rcpt_again = c.packet("c", b"RCPT TO:<b@test>\r\n", offset=rcpt_offset(c, b"RCPT TO:<b@test>\r\n"))
    c.send("s", b"250 ok\r\n")
    exchange(c, b"DATA\r\n", b"354 go\r\n")
    body = b"line one\r\nline two\r\n.\r\n"
    start = c.next["c"]
    second = c.packet("c", body[10:], offset=start + 10)  # arrives first
    first = c.packet("c", body[:10], offset=start)
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == CLEAN_SMTP
    conn = j.connections[0]
    flagged = [s.index for s in conn.c2s.segments if s.retransmission]
    assert flagged == [rcpt_again]
    assert conn.c2s.stream.count(b"RCPT") == 1
    assert conn.c2s.stream.endswith(body + b"QUIT\r\n")
    assert conn.c2s.packet_at(conn.c2s.stream.index(b"line one")) == first
    assert conn.c2s.packet_at(conn.c2s.stream.index(b"line two")) == second
    assert conn.c2s.packet_at(conn.c2s.stream.index(b"RCPT")) == rcpt
    nw2 = j.one("NET-WIRE-2")
    assert [(m.name, m.value) for m in nw2.measurements][1] == ("device retransmissions", 1)


def rcpt_offset(c: Conversation, sent: bytes) -> int:
    return c.next["c"] - len(sent)


def test_oversize_segment_fails_mss_and_payload(judge_trace):
    t = Trace()
    c = smtp_open(t, server_mss=1200)
    smtp_to_data(c)
    ok = c.packet("c", b"a" * 998 + b"\r\n")  # 1000 octets: within every limit
    big = c.packet("c", (b"b" * 98 + b"\r\n") * 14)  # 1400 octets (fits the MTU): above 1200 and 1024
    mid = c.packet("c", (b"c" * 98 + b"\r\n") * 11)  # 1100 octets: above 1024 only
    c.packet("c", b".\r\n")
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    nw1 = j.one("NET-WIRE-1")
    assert nw1.outcome.value == "fail"
    assert j.failed_packets("NET-WIRE-1") == [(big,)]
    assert nw1.measurements[1].value == 1400 and nw1.measurements[1].limit == 1200
    m3 = j.one("SMTP-MAIL-3")
    assert m3.outcome.value == "fail"
    assert j.failed_packets("SMTP-MAIL-3") == [(big, mid)]
    assert (m3.measurements[0].value, m3.measurements[0].limit) == (1400, 1024)
    assert ok not in j.failed_packets("SMTP-MAIL-3")[0]
    assert j.one("SMTP-WIRE-1").outcome.value == "pass"


def test_syn_mss_above_mtu_and_ip_options(judge_trace):
    t = Trace()
    c = Conversation(t, (DEV, 49160), (SRV, 25), ip_options=b"\x94\x04\x00\x00")  # router alert: 24-octet header
    syn = c.handshake(client_mss=1500)[0]
    c.send("s", b"220 hi\r\n")
    exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    c.close("c")
    j = judge_trace(t)
    nw1 = j.one("NET-WIRE-1")
    assert nw1.outcome.value == "fail"
    ev = nw1.evidence
    assert ev[0].packets == (syn,) and "SYN MSS 1500 > MTU 1500 - 40 = 1460" in ev[0].excerpt
    client_frames = tuple(s.index for s in j.connections[0].c2s.segments)
    assert ev[1].packets == client_frames and "header of 24 octets" in ev[1].excerpt
    assert nw1.measurements[0].value == 1500 and nw1.measurements[0].limit == 1460


def test_ipv6_syn_mss_limit_is_mtu_minus_60(judge_trace):
    t = Trace()
    c = Conversation(t, ("fec0::15", 49170), ("fec0::2", 110))
    syn = c.handshake(client_mss=1460)[0]
    c.close("c")
    j = judge_trace(t)
    nw1 = j.one("NET-WIRE-1")
    assert nw1.outcome.value == "fail" and j.failed_packets("NET-WIRE-1") == [(syn,)]
    assert nw1.measurements[0].limit == 1440
    assert nw1.subject == "connection [fec0::15]:49170 -> [fec0::2]:110"


def test_two_rcpts_fail_smtp_mail_1(judge_trace):
    t = Trace()
    c = smtp_open(t)
    r1, r2 = smtp_to_data(c, (b"b@test", b"c@test"))
    c.send("c", b"hi\r\n.\r\n")
    c.send("s", b"250 ok\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == {**CLEAN_SMTP, "SMTP-MAIL-1": "fail"}
    assert j.failed_packets("SMTP-MAIL-1") == [(r1[0], r2[0])]
    assert j.one("SMTP-MAIL-1").measurements[0].value == 2


def test_two_mails_on_one_connection_fail_smtp_conn_1(judge_trace):
    t = Trace()
    c = smtp_open(t)
    first_mail = t.frames.__len__() + 1
    smtp_mail(c)
    second_mail = t.frames.__len__() + 1
    smtp_mail(c)
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == {**CLEAN_SMTP, "SMTP-CONN-1": "fail"}
    assert j.failed_packets("SMTP-CONN-1") == [(first_mail, second_mail)]
    assert j.one("SMTP-CONN-1").measurements[0].value == 2


def test_connection_left_open_fails_smtp_conn_1_and_net_wire_2(judge_trace):
    t = Trace()
    c = smtp_open(t)
    smtp_mail(c)
    quit_frames, _ = exchange(c, b"QUIT\r\n", b"221 bye\r\n")
    j = judge_trace(t)
    assert j.one("SMTP-CONN-1").outcome.value == "fail"
    assert j.connections[0].closed_by is None
    nw2 = j.one("NET-WIRE-2")
    assert nw2.outcome.value == "fail" and "never sent FIN" in nw2.evidence[0].excerpt


def test_command_before_reply_fails_smtp_wire_1(judge_trace):
    t = Trace()
    c = Conversation(t, (DEV, 49153), (SRV, 25))
    c.handshake()
    c.send("s", b"220 mail.test ESMTP\r\n")
    c.send("c", b"EHLO dev\r\n")
    c.packet("s", b"250-mail.test\r\n")  # first part of a multi-line reply
    early = c.packet("c", b"MAIL FROM:<a@dev>\r\n")  # sent before "250 " arrived
    done = c.packet("s", b"250 AUTH PLAIN\r\n")
    c.send("s", b"250 ok\r\n")
    exchange(c, b"RCPT TO:<b@test>\r\n", b"250 ok\r\n")
    exchange(c, b"DATA\r\n", b"354 go\r\n")
    c.send("c", b"hi\r\n.\r\n")
    c.send("s", b"250 ok\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == {**CLEAN_SMTP, "SMTP-WIRE-1": "fail"}
    assert j.failed_packets("SMTP-WIRE-1") == [(early, done)]
    assert "before the reply completed at packet %d" % done in j.one("SMTP-WIRE-1").evidence[0].excerpt


def test_pipelining_allowed_when_advertised(judge_trace):
    t = Trace()
    c = smtp_open(t, ehlo_reply=b"250-mail.test\r\n250 PIPELINING\r\n")
    c.send("c", b"MAIL FROM:<a@dev>\r\nRCPT TO:<b@test>\r\nDATA\r\n")
    c.send("s", b"250 ok\r\n250 ok\r\n354 go\r\n")
    c.send("c", b"hi\r\n.\r\n")
    c.send("s", b"250 ok\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == CLEAN_SMTP


def test_data_before_354_fails_even_with_pipelining(judge_trace):
    t = Trace()
    c = smtp_open(t, ehlo_reply=b"250-mail.test\r\n250 PIPELINING\r\n")
    c.send("c", b"MAIL FROM:<a@dev>\r\nRCPT TO:<b@test>\r\nDATA\r\n")
    body = c.packet("c", b"hi\r\n.\r\n")
    c.send("s", b"250 ok\r\n250 ok\r\n")
    go = c.packet("s", b"354 go\r\n")
    c.send("s", b"250 ok\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.one("SMTP-WIRE-1").outcome.value == "fail"
    assert j.failed_packets("SMTP-WIRE-1") == [(body, go)]


def test_bare_lf_fails_smtp_wire_1(judge_trace):
    t = Trace()
    c = smtp_open(t)
    smtp_to_data(c)
    body = c.send("c", b"good line\r\nbare line\nmore\r\n.\r\n")
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    assert j.outcomes() == {**CLEAN_SMTP, "SMTP-WIRE-1": "fail"}
    v = j.one("SMTP-WIRE-1")
    assert [(e.packets, e.excerpt) for e in v.evidence] == [(tuple(body), "bare LF line ending: bare line\\n")]


def test_long_smtp_lines(judge_trace):
    t = Trace()
    c = smtp_open(t)
    long_cmd, _ = exchange(c, b"MAIL FROM:<" + b"a" * 500 + b"@dev>\r\n", b"250 ok\r\n")
    exchange(c, b"RCPT TO:<b@test>\r\n", b"250 ok\r\n")
    exchange(c, b"DATA\r\n", b"354 go\r\n")
    text = c.send("c", b"z" * 1000 + b"\r\n.\r\n", seg=1024)
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    v = j.one("SMTP-WIRE-1")
    assert v.outcome.value == "fail"
    assert [e.packets for e in v.evidence] == [tuple(long_cmd), tuple(text)]
    assert [m.value for m in v.measurements[:2]] == [518, 1002]


def test_pop3_pipelining_long_command_and_payload(judge_trace):
    t = Trace()
    c = pop3_open(t)
    user = c.packet("c", b"USER mrose\r\n")
    piped = c.packet("c", b"PASS tanstaaf\r\n")  # before +OK to USER
    user_ok = c.packet("s", b"+OK\r\n")
    c.send("s", b"+OK maildrop\r\n")
    long, _ = exchange(c, b"NOOP " + b"n" * 251 + b"\r\n", b"+OK\r\n")  # 258 octets
    exchange(c, b"QUIT\r\n", b"+OK bye\r\n")
    c.close("c")
    j = judge_trace(t)
    assert j.outcomes() == {"NET-WIRE-1": "pass", "NET-WIRE-2": "pass", "POP-WIRE-1": "fail",
                            "POP-WIRE-2": "fail"}
    assert j.failed_packets("POP-WIRE-1") == [tuple(long), (piped, user_ok)]
    assert j.failed_packets("POP-WIRE-2") == [tuple(long)]
    assert user not in j.failed_packets("POP-WIRE-1")[1]


def test_pop3_multiline_reply_split_across_segments(judge_trace):
    t = Trace()
    c = pop3_open(t)
    exchange(c, b"USER mrose\r\n", b"+OK\r\n")
    exchange(c, b"PASS tanstaaf\r\n", b"+OK\r\n")
    c.send("c", b"RETR 1\r\n")
    c.packet("s", b"+OK 20 octets\r\nSubject: x\r\n")
    c.packet("s", b"\r\n..dot line\r\n.")
    end = c.packet("s", b"\r\n")
    c.send("c", b"LIST\r\n")
    c.packet("s", b"+OK\r\n1 20\r\n")
    early = c.packet("c", b"QUIT\r\n")  # before LIST's ".\r\n"
    list_end = c.packet("s", b".\r\n")
    c.send("s", b"+OK bye\r\n")
    c.close("c")
    j = judge_trace(t)
    assert j.one("POP-WIRE-1").outcome.value == "fail"
    assert j.failed_packets("POP-WIRE-1") == [(early, list_end)]
    assert end < early


def test_device_reset_fails_net_wire_2(judge_trace):
    t = Trace()
    c = smtp_open(t)
    rst = c.reset("c")
    j = judge_trace(t)
    nw2 = j.one("NET-WIRE-2")
    assert nw2.outcome.value == "fail"
    assert [e.packets for e in nw2.evidence] == [(rst,), (rst,)]
    assert j.connections[0].closed_by == "reset"
    conn_1 = j.one("SMTP-CONN-1")  # no MAIL is allowed; a reset instead of the client's FIN is not
    assert conn_1.outcome.value == "fail" and "instead of closing it with its own FIN" in conn_1.evidence[0].excerpt
    required = smtp_conn_1(j.connections, LIMITS, require_mail=True)[0]
    assert required.outcome.value == "fail" and required.evidence[0].excerpt == "no MAIL command on this connection"


def test_lost_segment_is_a_gap(judge_trace):
    t = Trace()
    c = smtp_open(t)
    smtp_to_data(c)
    c.next["c"] += 100  # 100 octets never captured
    after = c.packet("c", b"tail\r\n.\r\n")
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t)
    m3 = j.one("SMTP-MAIL-3")
    assert m3.outcome.value == "fail"
    assert [(e.packets, e.excerpt) for e in m3.evidence] == [((after,), "100 octets missing before stream offset 53")]
    assert j.connections[0].c2s.gaps[0].length == 100


def test_retransmission_storm_fails_net_wire_2(judge_trace):
    t = Trace()
    c = smtp_open(t)
    mail, _ = exchange(c, b"MAIL FROM:<a@dev>\r\n", b"250 ok\r\n")
    again = [c.packet("c", b"MAIL FROM:<a@dev>\r\n", offset=0 + 10) for _ in range(3)]
    smtp_quit(c)
    j = judge_trace(t)
    nw2 = j.one("NET-WIRE-2")
    assert nw2.outcome.value == "fail"
    assert nw2.evidence[0].packets == tuple(again)
    assert nw2.measurements[1].value == 3
    assert j.one("SMTP-CONN-1").outcome.value == "pass"  # one MAIL, not four


def test_device_filter_and_server_ports(judge_trace):
    t = Trace()
    smtp_quit(smtp_open(t))
    other = Conversation(t, ("10.0.2.99", 40000), (SRV, 25))
    other.handshake(client_mss=9000)
    j = judge_trace(t, replace(LIMITS, device_ips=frozenset({DEV})))
    assert {v.subject for v in j.verdicts} == {f"connection {DEV}:49153 -> {SRV}:25"}
    j2 = judge_trace(t, replace(LIMITS, smtp_ports=frozenset({2525})))
    assert {v.criterion for v in j2.verdicts} == {"NET-WIRE-1", "NET-WIRE-2"}


def test_frames_above_the_mtu_are_an_offload_artefact_not_a_verdict(judge_trace):
    """GRO on the capture side: two segments of a correct sender captured as one 2,920-octet frame."""
    t = Trace()
    c = smtp_open(t)
    smtp_to_data(c)
    merged = c.packet("c", (b"d" * 98 + b"\r\n") * 29 + b"d" * 28 + b"\r\n")  # 2,930 octets
    c.packet("c", b".\r\n")
    c.send("s", b"250 queued\r\n")
    smtp_quit(c)
    j = judge_trace(t, replace(LIMITS, capture_iface="veth-bench0"))
    for cid in ("NET-WIRE-1", "SMTP-MAIL-3"):
        v = j.one(cid)
        assert v.outcome.value == "inconclusive" and "offload" in v.summary, v
        assert v.evidence[0].packets == (merged,) and "GRO" in v.evidence[0].excerpt
        assert "`ethtool -K veth-bench0 gro off gso off tso off`" in v.evidence[0].excerpt
    assert j.one("SMTP-WIRE-1").outcome.value == "pass"  # the stream itself is judged as usual


def test_pop3_frame_above_the_mtu_makes_pop_wire_2_inconclusive(judge_trace):
    t = Trace()
    c = pop3_open(t)
    big = c.packet("c", b"USER " + b"u" * 1600 + b"\r\n")
    c.send("s", b"-ERR too long\r\n")
    c.close("c")
    v = judge_trace(t).one("POP-WIRE-2")
    assert v.outcome.value == "inconclusive" and v.evidence[0].packets == (big,) and "IFACE" in v.evidence[0].excerpt
