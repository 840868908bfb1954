"""Every fault action: the exact bytes a client receives, counting rules, determinism."""
from __future__ import annotations

import poplib
import smtplib
import time

import pytest
from server_helpers import PASSWORD, Raw, need, run

from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator

M1 = b"Subject: one\r\n\r\nbody one\r\n"
M2 = b"Subject: two\r\n\r\n" + b"x" * 200 + b"\r\n"
GREET = b"+OK POP3 mailbench ready <4242.1@bench.test>\r\n"
EHLO = b"250-bench.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"


def pop3(*rules: FaultRule, **kw: object) -> Pop3Emulator:
    return Pop3Emulator(maildrops={"device": Maildrop(password=PASSWORD, messages=[M1, M2])},
                        faults=list(rules), **{"quit_wait": 0.2, "timestamp": "<4242.{session}@bench.test>", **kw})  # type: ignore[arg-type]


def smtp(*rules: FaultRule, **kw: object) -> SmtpEmulator:
    return SmtpEmulator(users={"device": PASSWORD}, faults=list(rules), **kw)  # type: ignore[arg-type]


def login(c: Raw) -> None:
    assert c.line().startswith(b"+OK")
    c.cmd(b"USER device")
    assert c.cmd(b"PASS " + PASSWORD.encode()).startswith(b"+OK")


def test_reply_replaces_and_does_not_execute() -> None:
    with pop3(FaultRule("STAT", "reply", line="+OK two 300"), FaultRule("dele", "reply", line="-ERR no")) as srv:
        c = Raw(srv.port)
        login(c)
        assert c.cmd(b"STAT") == b"+OK two 300\r\n"
        assert c.cmd(b"DELE 1") == b"-ERR no\r\n"
        assert c.cmd(b"QUIT").startswith(b"+OK")
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert s.deleted == [] and len(srv.maildrops["device"].messages) == 2
        assert s.faults == ["STAT reply line='+OK two 300'", "DELE reply line='-ERR no'"]
        assert [ln.note for ln in s.lines if ln.direction == "event" and ln.note.startswith("fault")] == [
            "fault: rule 1 (STAT reply line='+OK two 300') fired on 'STAT', its #1 in the session, session 1",
            "fault: rule 2 (DELE reply line='-ERR no') fired on 'DELE 1', its #1 in the session, session 1"]
        hits = srv.transcript.hits
        assert [(h.rule, h.event, h.command, h.nth, h.octets) for h in hits] == [
            (0, "STAT", b"STAT\r\n", 1, len(b"+OK two 300\r\n")), (1, "DELE", b"DELE 1\r\n", 1, len(b"-ERR no\r\n"))]
        assert s.lines[0].t <= hits[0].t <= hits[1].t <= s.lines[-1].t


def test_reply_with_execute_runs_the_command() -> None:
    with pop3(FaultRule("DELE", "reply", line="-ERR lie", execute=True)) as srv:
        c = Raw(srv.port)
        login(c)
        assert c.cmd(b"DELE 1") == b"-ERR lie\r\n"
        c.cmd(b"QUIT")
        assert srv.wait_sessions(1, 5)
        assert srv.sessions[0].deleted == [1]


def test_malformed_default_lines() -> None:
    with pop3(FaultRule("greeting", "malformed")) as srv:
        assert Raw(srv.port).line() == b"OK malformed reply\r\n"
    with smtp(FaultRule("greeting", "malformed")) as srv:
        assert Raw(srv.port).line() == b"2x0 malformed reply\r\n"
    with smtp(FaultRule("EHLO", "malformed", line="250")) as srv:
        c = Raw(srv.port)
        c.line()
        assert c.cmd(b"EHLO board.test") == b"250\r\n"


def test_delay() -> None:
    with pop3(FaultRule("greeting", "delay", ms=300)) as srv:
        t0 = time.monotonic()
        c = Raw(srv.port)
        assert c.line() == GREET
        assert time.monotonic() - t0 >= 0.29


def test_split_writes_and_clients_cope() -> None:
    with smtp(FaultRule("EHLO", "split", size=1)) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        assert c.recv_until(b"250 HELP\r\n") == EHLO
        c.close()
        assert srv.wait_sessions(1, 5)
        writes = [ln.data for ln in srv.sessions[0].lines if ln.note == "fault split"]
        assert writes == [EHLO[i:i + 1] for i in range(len(EHLO))]
    with smtp(FaultRule("*", "split", size=3)) as srv:  # every reply, three bytes a write
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="board.test", timeout=5) as s:
            s.login("device", PASSWORD)
            s.sendmail("a@b.test", ["c@d.test"], b"Subject: x\r\n\r\nsplit\r\n")
        assert srv.wait_sessions(1, 5)
        assert srv.messages[0].data == b"Subject: x\r\n\r\nsplit\r\n"
    with pop3(FaultRule("RETR", "split", size=7, ms=1)) as srv:
        p = poplib.POP3("127.0.0.1", srv.port, timeout=5)
        p.user("device")
        p.pass_(PASSWORD)
        assert b"\r\n".join(p.retr(2)[1]) + b"\r\n" == M2
        p.quit()


def test_split_curl_smtp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    curl = need("curl")
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    with smtp(FaultRule("*", "split", size=1)) as srv:
        r = run([curl, "-sS", f"smtp://127.0.0.1:{srv.port}/board.test", "--mail-from", "a@b.test",
                 "--mail-rcpt", "c@d.test", "-T", str(msg), "-u", f"device:{PASSWORD}"])
        assert r.returncode == 0, r.stderr
        assert srv.wait_sessions(1, 5) and len(srv.messages) == 1


def test_overlong_line() -> None:
    with pop3(FaultRule("greeting", "overlong", size=1000)) as srv:
        line = Raw(srv.port).line()
        assert len(line) == 1000
        assert line == GREET[:-2] + b"X" * (1000 - len(GREET)) + b"\r\n"
    with smtp(FaultRule("EHLO", "overlong", size=600, line="250-bench.test ")) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        got = c.recv_until(b"250 HELP\r\n")
        first = b"250-bench.test " + b"X" * (600 - 17) + b"\r\n"
        assert got == first + EHLO[len(b"250-bench.test\r\n"):]


def test_no_crlf() -> None:
    with pop3(FaultRule("USER", "no_crlf")) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"USER device\r\n")
        assert c.read_for(0.3) == (b"+OK send PASS", "timeout")


def test_no_terminator_pop3_and_smtp() -> None:
    with pop3(FaultRule("LIST", "no_terminator")) as srv:
        c = Raw(srv.port)
        login(c)
        c.send(b"LIST\r\n")
        want = f"+OK 2 messages ({len(M1) + len(M2)} octets)\r\n1 {len(M1)}\r\n2 {len(M2)}\r\n".encode()
        assert c.read_for(0.3) == (want, "timeout")
    with smtp(FaultRule("EHLO", "no_terminator")) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        assert c.read_for(0.3) == (EHLO.replace(b"250 HELP", b"250-HELP"), "timeout")


def test_stall_then_client_leaves() -> None:
    with smtp(FaultRule("MAIL", "stall")) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        c.recv_until(b"250 HELP\r\n")
        c.cmd(b"AUTH PLAIN AGRldmljZQBzM2NyZXQtcHc=")
        c.send(b"MAIL FROM:<a@b>\r\n")
        assert c.read_for(0.3) == (b"", "timeout")
        c.send(b"QUIT\r\n")
        assert c.read_for(0.3) == (b"", "timeout")
        c.close()
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert s.closed_by == "client" and s.lines[-3].data == b"QUIT\r\n"
        assert s.lines[-2].note.startswith("client left ")
        assert "stalling for up to 13500 ms (client reply timeout 10000 ms)" in [ln.note for ln in s.lines]


def test_close_mid_retr_deletes_nothing() -> None:
    with pop3(FaultRule("RETR", "close", size=20)) as srv:
        c = Raw(srv.port)
        login(c)
        c.cmd(b"DELE 1")
        c.send(b"RETR 2\r\n")
        assert c.read_for(2) == ((f"+OK {len(M2)} octets\r\n".encode() + M2)[:20], "eof")
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert s.closed_by == "server" and s.deleted == [] and s.retrieved == [2]
        assert len(srv.maildrops["device"].messages) == 2


def test_reset_mid_retr_and_at_connect() -> None:
    with pop3(FaultRule("RETR", "reset", size=30)) as srv:
        c = Raw(srv.port)
        login(c)
        c.send(b"RETR 2\r\n")
        data, how = c.read_for(2)
        assert how == "reset"
        assert (f"+OK {len(M2)} octets\r\n".encode() + M2)[:30].startswith(data)
        assert srv.wait_sessions(1, 5) and srv.sessions[0].closed_by == "server"
    with smtp(FaultRule("connect", "reset")) as srv:
        assert Raw(srv.port).read_for(2) == (b"", "reset")


def test_refuse_closes_at_accept() -> None:
    with smtp(FaultRule("connect", "refuse", nth=1, scope="server")) as srv:
        assert Raw(srv.port).read_for(2) == (b"", "eof")
        assert Raw(srv.port).line() == b"220 bench.test ESMTP mailbench\r\n"  # only the first
        assert srv.wait_sessions(1, 5)
        assert srv.sessions[0].faults == ["connect refuse nth=1/server"]


def test_smtp_drop_mid_data_and_message_reply() -> None:
    body = [b"Subject: x\r\n", b"\r\n", b"line one\r\n", b"line two\r\n", b".\r\n"]
    with smtp(FaultRule("body", "reset", nth=3)) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        c.recv_until(b"250 HELP\r\n")
        c.cmd(b"AUTH PLAIN AGRldmljZQBzM2NyZXQtcHc=")
        c.cmd(b"MAIL FROM:<a@b>")
        c.cmd(b"RCPT TO:<c@d>")
        assert c.cmd(b"DATA").startswith(b"354")
        for ln in body[:3]:
            c.send(ln)
        assert c.read_for(2) == (b"", "reset")
        assert srv.wait_sessions(1, 5) and not srv.messages
    with smtp(FaultRule("message", "reply", line="451 4.3.0 try later")) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="board.test", timeout=5) as s:
            s.login("device", PASSWORD)
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("a@b", ["c@d"], b"".join(body[:-1]))
            assert e.value.smtp_code == 451
        assert srv.wait_sessions(1, 5) and not srv.messages


def test_421_reply_closes() -> None:
    with smtp(FaultRule("greeting", "reply", line="421 4.3.2 Service not available")) as srv:
        assert Raw(srv.port).read_for(2) == (b"421 4.3.2 Service not available\r\n", "eof")
        assert srv.wait_sessions(1, 5) and srv.sessions[0].closed_by == "server"


def test_auth_reply_fault() -> None:
    with smtp(FaultRule("auth-reply", "reply", line="454 4.7.0 temporary failure")) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="board.test", timeout=5) as s:
            s.ehlo()
            s.user, s.password = "device", PASSWORD
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            assert e.value.smtp_code == 454


def test_nth_per_session_per_server_and_session_filter() -> None:
    plan = [FaultRule("STAT", "reply", nth=2, line="-ERR second STAT of the session"),  # session: still works
            FaultRule("greeting", "reply", nth=2, scope="server", line="-ERR second greeting of the server"),
            FaultRule("NOOP", "reply", session=3, line="-ERR noop in session 3")]
    with pop3(*plan) as srv:
        got = []
        for _ in range(3):
            c = Raw(srv.port)
            g = c.line()
            got.append(g)
            if g.startswith(b"-ERR"):
                c.close()
                continue
            c.cmd(b"USER device")
            c.cmd(b"PASS " + PASSWORD.encode())
            got += [c.cmd(b"STAT"), c.cmd(b"STAT"), c.cmd(b"NOOP")]
            c.cmd(b"QUIT")
            c.close()
        assert srv.wait_sessions(3, 5)
    stat = f"+OK 2 {len(M1) + len(M2)}\r\n".encode()
    assert got == [GREET, stat, b"-ERR second STAT of the session\r\n", b"+OK\r\n",
                   b"-ERR second greeting of the server\r\n",
                   GREET.replace(b"4242.1", b"4242.3"), stat, b"-ERR second STAT of the session\r\n",
                   b"-ERR noop in session 3\r\n"]


def test_same_plan_same_bytes() -> None:
    plan = FaultPlan([FaultRule("greeting", "split", size=5), FaultRule("LIST", "no_terminator", nth=1),
                      FaultRule("STAT", "overlong", size=300), FaultRule("RETR", "close", size=25)])

    def once() -> bytes:
        with pop3(*plan.rules) as srv:
            c = Raw(srv.port)
            c.line()
            for cmd in (b"USER device", b"PASS " + PASSWORD.encode(), b"STAT"):
                c.cmd(cmd)
            c.send(b"LIST\r\nRETR 1\r\n")
            c.read_for(2)
            assert srv.wait_sessions(1, 5)
            return b"".join(ln.data for ln in srv.sessions[0].lines if ln.direction == "s>c")

    first = once()
    assert first == once()
    assert first.endswith(b"\r\n" + (f"+OK {len(M1)} octets\r\n".encode() + M1)[:25])


def test_plan_json_round_trip_and_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plan = FaultPlan([FaultRule("RETR", "reset", nth=2, size=10, protocol="pop3"),
                      FaultRule("EHLO", "reply", line="502 5.5.1 no", protocol="smtp"),
                      FaultRule("greeting", "delay", ms=50)])
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    loaded = FaultPlan.load(path)
    assert loaded == plan
    assert [r.match for r in loaded.for_protocol("smtp").rules] == ["EHLO", "greeting"]
    with pytest.raises(ValueError):
        FaultRule("RETR", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FaultRule.from_dict({"match": "RETR", "action": "reset", "colour": "red"})
    with pytest.raises(ValueError):
        FaultRule("RETR", "split")


def test_connect_delay_and_stall() -> None:
    with smtp(FaultRule("connect", "delay", ms=200)) as srv:
        t0 = time.monotonic()
        assert Raw(srv.port).line() == b"220 bench.test ESMTP mailbench\r\n"
        assert time.monotonic() - t0 >= 0.19
    with pop3(FaultRule("connect", "stall")) as srv:
        c = Raw(srv.port)
        assert c.read_for(0.3) == (b"", "timeout")
        c.close()
        assert srv.wait_sessions(1, 5) and srv.sessions[0].closed_by == "client"


def test_smtp_same_plan_same_bytes() -> None:
    plan = [FaultRule("greeting", "split", size=4), FaultRule("EHLO", "no_crlf", nth=1),
            FaultRule("EHLO", "overlong", nth=2, size=100), FaultRule("NOOP", "reset", size=3)]

    def once() -> bytes:
        with smtp(*plan) as srv:
            c = Raw(srv.port)
            c.line()
            c.send(b"EHLO a\r\n")
            c.recv_until(b"250 HELP")
            c.send(b"EHLO a\r\nNOOP\r\n")
            c.read_for(2)
            assert srv.wait_sessions(1, 5)
            return b"".join(ln.data for ln in srv.sessions[0].lines if ln.direction == "s>c")

    first = once()
    assert first == once() and first.endswith(b"250 HELP\r\n250")


def test_stall_past_the_reply_timeout_then_close() -> None:
    with smtp(FaultRule("greeting", "stall"), reply_timeout_ms=200) as srv:
        c = Raw(srv.port)
        t0 = time.monotonic()
        assert c.read_for(3) == (b"", "eof")
        assert 1.15 <= time.monotonic() - t0 < 2.5  # 200 ms + the 1 s margin
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert s.closed_by == "server" and any("client is still connected" in ln.note for ln in s.lines)
    with smtp(FaultRule("greeting", "stall", ms=300)) as srv:  # an explicit length
        t0 = time.monotonic()
        assert Raw(srv.port).read_for(3) == (b"", "eof")
        assert 0.29 <= time.monotonic() - t0 < 1.0


def test_arg_keys_a_rule_on_the_command_not_the_session() -> None:
    """``RETR 2`` faults fire on that command wherever it comes, however many sessions went before."""
    plan = [FaultRule("RETR", "reply", arg="2", line="-ERR keyed on RETR 2"),
            FaultRule("STAT", "reply", nth=2, scope="server", line="-ERR second STAT on the server"),
            FaultRule("NOOP", "reply", times=1, scope="server", line="-ERR first NOOP only")]
    with pop3(*plan) as srv:
        got = []
        for cmds in ([b"STAT", b"LIST 2", b"NOOP"], [b"NOOP"], [b"RETR 2", b"STAT", b"RETR 2", b"NOOP"]):
            c = Raw(srv.port)
            login(c)
            got += [c.cmd(x).split(b"\r\n")[0] for x in cmds]
            c.cmd(b"QUIT")
            c.close()
        assert srv.wait_sessions(3, 5)
    assert got == [f"+OK 2 {len(M1) + len(M2)}".encode(), f"+OK 2 {len(M2)}".encode(), b"-ERR first NOOP only",
                   b"+OK", b"-ERR keyed on RETR 2", b"-ERR second STAT on the server", b"-ERR keyed on RETR 2", b"+OK"]
    hits = srv.transcript.hits
    assert [(h.session, h.rule, h.command, h.nth, h.scope) for h in hits] == [
        (1, 2, b"NOOP\r\n", 1, "server"), (3, 0, b"RETR 2\r\n", 1, "session"),
        (3, 1, b"STAT\r\n", 2, "server"), (3, 0, b"RETR 2\r\n", 2, "session")]
    assert srv.transcript.fired(1) == [hits[2]] and srv.transcript.plan[0] == "RETR 2 reply line='-ERR keyed on RETR 2'"


def test_transcript_files_list_the_plan_and_the_hits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pop3(FaultRule("STAT", "split", size=4), FaultRule("LIST", "reply", line="-ERR never")) as srv:
        c = Raw(srv.port)
        login(c)
        c.cmd(b"STAT")
        c.close()
        assert srv.wait_sessions(1, 5)
    srv.transcript.write(tmp_path / "t.txt")
    srv.transcript.write_json(tmp_path / "t.json")
    text = (tmp_path / "t.txt").read_text()
    assert text.startswith("# fault rule 1: STAT split size=4\n# fault rule 2: LIST reply line='-ERR never'\n")
    assert "fault: rule 1 (STAT split size=4) fired on 'STAT'" in text
    import json

    (hit,) = json.loads((tmp_path / "t.json").read_text())[0]["hits"]
    stat = f"+OK 2 {len(M1) + len(M2)}\r\n"
    assert hit["rule"] == 0 and hit["command"] == "STAT\r\n" and hit["octets"] == len(stat) and hit["size"] == 4
    assert hit["offset"] == len(GREET) + len(b"+OK send PASS\r\n") + len(b"+OK maildrop has 2 messages (") + len(
        str(len(M1) + len(M2))) + len(b" octets)\r\n")


def test_step_keys_a_rule_on_the_workload_step_running() -> None:
    with pop3(FaultRule("STAT", "reply", step=2, line="-ERR during step 2")) as srv:
        c = Raw(srv.port)
        login(c)
        first = c.cmd(b"STAT")
        srv.step = 2  # what the runner does before each step
        second = c.cmd(b"STAT")
        srv.step = 3
        third = c.cmd(b"STAT")
        c.close()
        assert srv.wait_sessions(1, 5)
    assert first == third != second == b"-ERR during step 2\r\n"
    (hit,) = srv.transcript.hits
    assert hit.step == 2 and hit.describe().endswith("session 1, step 2")
