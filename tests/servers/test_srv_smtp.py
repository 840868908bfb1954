"""The SMTP emulator against real clients: smtplib, curl, swaks, msmtp."""
from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from server_helpers import PASSWORD, Raw, assert_no_secret, need, run

from bench.servers.smtp import SmtpEmulator

USERS = {"device": PASSWORD}
BODY = b"From: dev@board.test\r\nTo: host@bench.test\r\nSubject: hello\r\n\r\nline 1\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"


@pytest.fixture
def smtp():
    with SmtpEmulator(users=USERS) as srv:
        yield srv


def _stored_ok(srv: SmtpEmulator, method: str, body: bytes = BODY, exact: bool = True) -> None:
    assert srv.wait_sessions(1, 5)
    s = srv.sessions[0]
    assert (s.auth_method, s.auth_user, s.auth_ok) == (method, "device", True)
    assert len(srv.messages) == 1 and s.messages == srv.messages
    m = srv.messages[0]
    assert m.mail_from == "dev@board.test" and m.rcpt_to == ["host@bench.test"]
    assert m.data == body if exact else m.data.endswith(body)  # msmtp prepends a Date header
    assert m.raw_wire.endswith(b"\r\n.\r\n")
    assert s.closed_by == "client"
    assert_no_secret(srv.sessions)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_smtplib_plain_both_families(smtp: SmtpEmulator, host: str) -> None:
    with smtplib.SMTP(host, smtp.port, local_hostname="board.test", timeout=5) as c:
        c.login("device", PASSWORD)
        c.sendmail("dev@board.test", ["host@bench.test"], BODY)
    _stored_ok(smtp, "plain")
    m = smtp.messages[0]
    # dot-stuffed on the wire, unstuffed in data
    assert b"\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n" in m.raw_wire
    assert smtp.sessions[0].commands == ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    assert smtp.sessions[0].peer.startswith("[::1]:" if host == "::1" else "127.0.0.1:")


def test_smtplib_login(smtp: SmtpEmulator) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.port, local_hostname="board.test", timeout=5) as c:
        c.ehlo()
        c.user, c.password = "device", PASSWORD
        c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        c.sendmail("dev@board.test", ["host@bench.test"], BODY)
    _stored_ok(smtp, "login")
    lines = [ln.data for ln in smtp.sessions[0].lines if ln.direction != "event"]
    i = lines.index(b"AUTH LOGIN\r\n")
    assert lines[i + 1:i + 6] == [b"334 VXNlcm5hbWU6\r\n", b"********\r\n", b"334 UGFzc3dvcmQ6\r\n",
                                  b"********\r\n", b"235 2.7.0 Authentication successful\r\n"]


def test_wrong_password_535_and_no_mail_without_auth(smtp: SmtpEmulator) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.port, local_hostname="board.test", timeout=5) as c:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.login("device", "wrong")
        assert e.value.smtp_code == 535
        code, _ = c.mail("dev@board.test")
        assert code == 530
    assert smtp.wait_sessions(1, 5)
    s = smtp.sessions[0]
    assert s.auth_ok is False and not smtp.messages


def _curl_smtp(port: int, tmp_path: Path, *opts: str, host: str = "127.0.0.1") -> None:
    curl = need("curl")
    msg = tmp_path / "msg.eml"
    msg.write_bytes(BODY)
    h = f"[{host}]" if ":" in host else host
    r = run([curl, "-sS", f"smtp://{h}:{port}/board.test", "--mail-from", "dev@board.test",
             "--mail-rcpt", "host@bench.test", "-T", str(msg), "-u", f"device:{PASSWORD}", *opts])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("mech,opts", [
    ("login", ["--login-options", "AUTH=LOGIN"]),
    ("plain", ["--login-options", "AUTH=PLAIN"]),
    ("plain", ["--login-options", "AUTH=PLAIN", "--sasl-ir"]),
])
def test_curl(smtp: SmtpEmulator, tmp_path: Path, mech: str, opts: list[str]) -> None:
    _curl_smtp(smtp.port, tmp_path, *opts)
    _stored_ok(smtp, mech)
    auth = next(ln.data for ln in smtp.sessions[0].lines if ln.data.startswith(b"AUTH"))
    assert auth == (b"AUTH PLAIN ********\r\n" if "--sasl-ir" in opts else f"AUTH {mech.upper()}\r\n".encode())
    assert smtp.sessions[0].lines[2].data == b"EHLO board.test\r\n"


def test_curl_ipv6(smtp: SmtpEmulator, tmp_path: Path) -> None:
    _curl_smtp(smtp.port, tmp_path, "--login-options", "AUTH=PLAIN", host="::1")
    _stored_ok(smtp, "plain")


def test_ehlo_refused_curl_falls_back_to_helo(tmp_path: Path) -> None:
    with SmtpEmulator(users=USERS, ehlo_reply=502, require_auth=False) as srv:
        _curl_smtp(srv.port, tmp_path)
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert s.commands[:2] == ["EHLO", "HELO"]
        assert any(ln.data.startswith(b"502 ") for ln in s.lines)
        assert len(srv.messages) == 1 and srv.messages[0].data == BODY


def test_no_auth_advertised(tmp_path: Path) -> None:
    with SmtpEmulator(users=USERS, auth_mechanisms=[]) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="board.test", timeout=5) as c:
            c.ehlo()
            assert not c.has_extn("auth")
            c.sendmail("dev@board.test", ["host@bench.test"], BODY)
        assert srv.wait_sessions(1, 5)
        assert srv.sessions[0].auth_method is None and len(srv.messages) == 1


def test_cram_md5_advertised_and_working(tmp_path: Path) -> None:
    """CRAM-MD5 on request: curl prefers it, which proves the advertisement; the
    device tests then check the firmware never picks it."""
    with SmtpEmulator(users=USERS, auth_mechanisms=["CRAM-MD5", "PLAIN", "LOGIN"]) as srv:
        _curl_smtp(srv.port, tmp_path)
        assert srv.wait_sessions(1, 5)
        s = srv.sessions[0]
        assert b"250-AUTH CRAM-MD5 PLAIN LOGIN\r\n" in b"".join(ln.data for ln in s.lines)
        assert (s.auth_method, s.auth_ok) == ("cram-md5", True)
        assert_no_secret(srv.sessions)


def test_swaks_plain_initial_response(smtp: SmtpEmulator) -> None:
    swaks = need("swaks")
    r = run([swaks, "--server", "127.0.0.1", "--port", str(smtp.port), "--helo", "board.test",
             "-a", "PLAIN", "-au", "device", "-ap", PASSWORD, "--from", "dev@board.test",
             "--to", "host@bench.test", "--data", "-"], input=BODY)
    assert r.returncode == 0, r.stdout[-500:]
    assert smtp.wait_sessions(1, 5)
    s = smtp.sessions[0]
    assert b"AUTH PLAIN ********\r\n" in [ln.data for ln in s.lines]
    assert (s.auth_method, s.auth_ok) == ("plain", True)
    assert smtp.messages[0].data.startswith(BODY)  # swaks adds a blank line
    assert_no_secret(smtp.sessions)


def test_swaks_after_ehlo_refused_fails_without_auth() -> None:
    swaks = need("swaks")
    with SmtpEmulator(users=USERS, ehlo_reply=500) as srv:
        r = run([swaks, "--server", "127.0.0.1", "--port", str(srv.port), "--helo", "board.test",
                 "-a", "PLAIN", "-au", "device", "-ap", PASSWORD, "--from", "a@b", "--to", "c@d"])
        assert r.returncode != 0
        assert srv.wait_sessions(1, 5)
        assert srv.sessions[0].commands[:2] == ["EHLO", "HELO"] and not srv.messages


@pytest.mark.parametrize("auth", ["login", "plain"])
def test_msmtp(smtp: SmtpEmulator, auth: str) -> None:
    msmtp = need("msmtp")
    r = run([msmtp, "--host=127.0.0.1", f"--port={smtp.port}", "--tls=off", f"--auth={auth}",
             "--user=device", f"--passwordeval=echo {PASSWORD}", "--domain=board.test",
             "--from=dev@board.test", "host@bench.test"], input=BODY)
    assert r.returncode == 0, r.stderr
    _stored_ok(smtp, auth, exact=False)


def test_raw_session_rset_noop_multiline_and_errors(smtp: SmtpEmulator) -> None:
    c = Raw(smtp.port)
    assert c.line() == b"220 bench.test ESMTP mailbench\r\n"
    assert c.cmd(b"MAIL FROM:<a@b>") == b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    c.send(b"EHLO board.test\r\n")
    assert c.recv_until(b"250 HELP\r\n") == (
        b"250-bench.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n")
    assert c.cmd(b"AUTH PLAIN") == b"334 \r\n"
    assert c.cmd(b"*") == b"501 5.7.0 Authentication cancelled\r\n"
    assert c.cmd(b"AUTH PLAIN AGRldmljZQBzM2NyZXQtcHc=") == b"235 2.7.0 Authentication successful\r\n"
    assert c.cmd(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert c.cmd(b"MAIL FROM:<a@b>") == b"250 2.1.0 OK\r\n"
    assert c.cmd(b"RSET") == b"250 2.0.0 OK\r\n"
    assert c.cmd(b"DATA") == b"503 5.5.1 Error: need MAIL command\r\n"
    assert c.cmd(b"VRFY x") == b"502 5.5.1 VRFY not implemented\r\n"
    assert c.cmd(b"X" * 600) == b"500 5.5.2 Line too long\r\n"
    assert c.cmd(b"QUIT") == b"221 2.0.0 bench.test closing connection\r\n"
    c.close()
    assert smtp.wait_sessions(1, 5)
    assert smtp.sessions[0].auth_ok is True and not smtp.messages


def test_auth_accepted_when_not_advertised() -> None:
    with SmtpEmulator(users=USERS, advertise_auth=False) as srv:
        c = Raw(srv.port)
        c.line()
        c.send(b"EHLO board.test\r\n")
        assert c.recv_until(b"250 HELP\r\n") == b"250-bench.test\r\n250-8BITMIME\r\n250 HELP\r\n"
        assert c.cmd(b"AUTH PLAIN AGRldmljZQBzM2NyZXQtcHc=") == b"235 2.7.0 Authentication successful\r\n"
        assert c.cmd(b"QUIT").startswith(b"221")
        c.close()
        assert srv.wait_sessions(1, 5) and srv.sessions[0].auth_ok is True
