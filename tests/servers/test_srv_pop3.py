"""The POP3 emulator against real clients: poplib, curl, fetchmail; UPDATE semantics."""
from __future__ import annotations

import hashlib
import poplib
from pathlib import Path

import pytest
from server_helpers import PASSWORD, Raw, assert_no_secret, need, run, write_rc

from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator

M1 = b"From: a@b\r\nSubject: one\r\n\r\nfirst body\r\n.leading dot\r\n.\r\nlast\r\n"
M2 = b"From: c@d\r\nSubject: two\r\n\r\n" + b"0123456789abcdef" * 4096 + b"\r\n"  # 64 KiB line
M3 = b"Subject: three\r\n\r\nthird\r\n"


def drops() -> dict[str, Maildrop]:
    return {"device": Maildrop(password=PASSWORD, messages=[M1, M2, M3])}


@pytest.fixture
def pop3():
    with Pop3Emulator(maildrops=drops(), quit_wait=0.2, seed=7) as srv:
        yield srv


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_poplib_user_pass_full_transaction(pop3: Pop3Emulator, host: str) -> None:
    c = poplib.POP3(host, pop3.port, timeout=5)
    assert c.getwelcome() == b"+OK POP3 mailbench ready " + seeded(7, 1)
    c.user("device")
    c.pass_(PASSWORD)
    assert c.stat() == (3, len(M1) + len(M2) + len(M3))
    assert c.list()[1] == [f"1 {len(M1)}".encode(), f"2 {len(M2)}".encode(), f"3 {len(M3)}".encode()]
    assert c.list(2) == f"+OK 2 {len(M2)}".encode()
    resp, lines, octets = c.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == M1  # poplib unstuffs
    assert c.dele(3).startswith(b"+OK")
    assert c.noop() == b"+OK"
    assert c.rset().startswith(b"+OK maildrop has 3")
    assert c.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        c.retr(1)  # deleted
    assert c.uidl()[1][0].startswith(b"2 2-")
    assert c.top(3, 0)[1] == [b"Subject: three", b""]
    c.quit()
    assert pop3.wait_sessions(1, 5)
    s = pop3.sessions[0]
    assert (s.auth_method, s.auth_user, s.auth_ok) == ("user", "device", True)
    assert s.retrieved == [1] and s.deleted == [1]
    assert s.closed_by == "client"
    assert pop3.maildrops["device"].messages == [M2, M3]
    wire = b"".join(ln.data for ln in s.lines if ln.direction == "s>c")
    assert b"\r\n..leading dot\r\n..\r\nlast\r\n.\r\n" in wire  # dot-stuffed RETR
    assert_no_secret(pop3.sessions)


def test_poplib_apop_digest_checked(pop3: Pop3Emulator) -> None:
    c = poplib.POP3("127.0.0.1", pop3.port, timeout=5)
    with pytest.raises(poplib.error_proto):
        c.apop("device", "wrong")
    assert c.apop("device", PASSWORD).startswith(b"+OK")
    c.quit()
    assert pop3.wait_sessions(1, 5)
    s = pop3.sessions[0]
    assert (s.auth_method, s.auth_ok) == ("apop", True)
    sent = [ln.data for ln in s.lines if ln.direction == "c>s"]
    assert sent[0] == b"APOP device ********\r\n"
    assert_no_secret(pop3.sessions)


def test_dropped_connection_deletes_nothing(pop3: Pop3Emulator) -> None:
    c = Raw(pop3.port)
    c.line()
    c.cmd(b"USER device")
    c.cmd(b"PASS " + PASSWORD.encode())
    assert c.cmd(b"DELE 1") == b"+OK message 1 deleted\r\n"
    c.close()
    assert pop3.wait_sessions(1, 5)
    assert pop3.sessions[0].deleted == [] and len(pop3.maildrops["device"].messages) == 3
    assert pop3.sessions[0].closed_by == "client"


def test_authorization_state_and_errors(pop3: Pop3Emulator) -> None:
    c = Raw(pop3.port)
    greeting = c.line()
    assert c.cmd(b"STAT") == b"-ERR command not valid in this state\r\n"
    assert c.cmd(b"PASS x") == b"-ERR USER first\r\n"
    c.cmd(b"USER device")
    assert c.cmd(b"PASS nope") == b"-ERR [AUTH] invalid user name or password\r\n"
    ts = greeting.split()[-1]
    digest = hashlib.md5(ts + PASSWORD.encode()).hexdigest().encode()
    assert c.cmd(b"APOP device " + digest) == f"+OK maildrop has 3 messages ({len(M1) + len(M2) + len(M3)} octets)\r\n".encode()
    # a second session finds the maildrop locked
    d = Raw(pop3.port)
    d.line()
    d.cmd(b"USER device")
    assert d.cmd(b"PASS " + PASSWORD.encode()) == b"-ERR [IN-USE] maildrop already locked\r\n"
    d.close()
    assert c.cmd(b"LIST 9") == b"-ERR no such message\r\n"
    assert c.cmd(b"RETR x") == b"-ERR message number required\r\n"
    assert c.cmd(b"XYZZY") == b"-ERR unknown command\r\n"
    assert c.cmd(b"USER device") == b"-ERR command not valid in this state\r\n"
    c.send(b"CAPA\r\n")
    assert c.recv_until(b"\r\n.\r\n") == (b"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\n"
                                          b"RESP-CODES\r\nIMPLEMENTATION mailbench\r\n.\r\n")
    assert c.cmd(b"QUIT") == b"+OK mailbench POP3 server signing off (3 messages left)\r\n"
    assert c.read_for(2) == (b"", "eof")


def test_no_timestamp_and_reject_apop() -> None:
    with Pop3Emulator(maildrops=drops(), apop=False) as srv:
        c = Raw(srv.port)
        assert c.line() == b"+OK POP3 mailbench ready\r\n"
        assert c.cmd(b"APOP device 0123") == b"-ERR APOP not supported\r\n"
    with Pop3Emulator(maildrops=drops(), reject_apop=True, timestamp="<1.2@fixed>") as srv:
        c = poplib.POP3("127.0.0.1", srv.port, timeout=5)
        assert c.getwelcome().endswith(b"<1.2@fixed>")
        with pytest.raises(poplib.error_proto):
            c.apop("device", PASSWORD)
        c.user("device")
        c.pass_(PASSWORD)  # the fallback the seed demands works
        c.quit()


def _curl(port: int, path: str, *opts: str, host: str = "127.0.0.1") -> bytes:
    curl = need("curl")
    h = f"[{host}]" if ":" in host else host
    r = run([curl, "-sS", "-u", f"device:{PASSWORD}", *opts, f"pop3://{h}:{port}/{path}"])
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("apop", [False, True])
def test_curl_list_retr_dele(apop: bool) -> None:
    """curl uses APOP whenever the greeting has a timestamp; without one, USER/PASS."""
    opts = ["--login-options", "AUTH=+APOP"] if apop else []
    with Pop3Emulator(maildrops=drops(), apop=apop) as pop3:
        listing = _curl(pop3.port, "", *opts)
        assert listing == f"1 {len(M1)}\r\n2 {len(M2)}\r\n3 {len(M3)}\r\n".encode()
        assert _curl(pop3.port, "1", *opts) == M1
        assert _curl(pop3.port, "2", *opts, host="::1") == M2
        _curl(pop3.port, "3", "-X", "DELE", "-I", *opts)
        assert pop3.wait_sessions(4, 5)
        method = "apop" if apop else "user"
        assert [s.auth_method for s in pop3.sessions] == [method] * 4
        assert [s.retrieved for s in pop3.sessions] == [[], [1], [2], []]
        assert pop3.sessions[3].deleted == [3]
        assert pop3.maildrops["device"].messages == [M1, M2]
        assert_no_secret(pop3.sessions)


def test_curl_forced_apop_without_timestamp_sends_no_apop() -> None:
    """The behaviour POP-AUTH-4 asks of the device: no APOP with a made-up digest."""
    curl = need("curl")
    with Pop3Emulator(maildrops=drops(), apop=False) as srv:
        r = run([curl, "-sS", "-u", f"device:{PASSWORD}", "--login-options", "AUTH=+APOP",
                 f"pop3://127.0.0.1:{srv.port}/3"])
        assert r.returncode == 67  # login denied
        assert srv.wait_sessions(1, 5)
        assert srv.sessions[0].commands == ["CAPA"]


@pytest.mark.parametrize("protocol", ["pop3", "apop"])
def test_fetchmail(tmp_path: Path, protocol: str) -> None:
    fetchmail = need("fetchmail")
    sink = tmp_path / "out.bsmtp"
    with Pop3Emulator(maildrops=drops()) as srv:
        rc = write_rc(tmp_path / "fetchmailrc", (
            f'set no syslog\npoll 127.0.0.1 service {srv.port} protocol {protocol}\n'
            f'  user "device" there with password "{PASSWORD}" is "root" here\n'
            f'  sslproto "" fetchall bsmtp "{sink}"\n'))
        r = run([fetchmail, "-f", str(rc), "--nodetach", "-i", str(tmp_path / "ids")],
                env={"HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}, timeout=30)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert (s.auth_method, s.auth_ok) == ("apop" if protocol == "apop" else "user", True)
        assert s.retrieved == [1, 2, 3] and s.deleted == [1, 2, 3]
        assert srv.maildrops["device"].messages == []
        assert_no_secret(srv.sessions)
    out = sink.read_bytes()
    assert b"first body" in out and b"third" in out and b"0123456789abcdef" * 100 in out


def seeded(seed: int, n: int) -> bytes:
    """The nth timestamp of an emulator seeded with ``seed``, computed independently."""
    import random

    rng = random.Random(seed)
    pid, clock0 = rng.randrange(1, 1 << 22), rng.randrange(10 ** 9, 2 * 10 ** 9)
    return f"<{pid}.{n}.{clock0 + n}@bench.test>".encode()


def greetings(srv: Pop3Emulator, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        c = poplib.POP3("127.0.0.1", srv.port, timeout=5)
        out.append(c.getwelcome())
        c.quit()
    return out


def test_apop_timestamp_unique_per_greeting() -> None:
    """RFC 1939 section 7: a different timestamp every greeting (process id, counter, clock)."""
    import os
    import re

    with Pop3Emulator(maildrops=drops(), quit_wait=0.2) as a, Pop3Emulator(maildrops=drops(), quit_wait=0.2) as b:
        got = greetings(a, 3) + greetings(b, 2)
    stamps = [re.search(rb"<[^>]+>", g).group(0) for g in got]  # type: ignore[union-attr]
    assert len(set(stamps)) == 5
    for i, st in enumerate(stamps):
        pid, n, clock = st[1:].split(b"@")[0].split(b".")
        assert int(pid) == os.getpid() and int(n) == (i % 3 if i < 3 else i - 3) + 1 and int(clock) > 0
        assert st.endswith(b"@bench.test>")


def test_apop_timestamp_seed_repeats_and_apop_works() -> None:
    runs = []
    for _ in range(2):
        with Pop3Emulator(maildrops=drops(), quit_wait=0.2, seed=42) as srv:
            runs.append(greetings(srv, 2))
            c = poplib.POP3("127.0.0.1", srv.port, timeout=5)
            c.apop("device", PASSWORD)
            assert c.stat()[0] == 3
            c.quit()
    assert runs[0] == runs[1] == [b"+OK POP3 mailbench ready " + seeded(42, n) for n in (1, 2)]
    with Pop3Emulator(maildrops=drops(), quit_wait=0.2, seed=43) as srv:
        assert greetings(srv, 1) != runs[0][:1]
