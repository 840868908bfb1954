"""Listening, stopping, waiting, transcripts on disk, and the ``serve`` entry."""
from __future__ import annotations

import json
import poplib
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from server_helpers import PASSWORD, Raw

from bench.servers.faults import FaultPlan, FaultRule
from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_dual_stack_same_port_and_clean_stop() -> None:
    before = set(threading.enumerate())
    srv = SmtpEmulator(users={"device": PASSWORD})
    with srv:
        assert {a for a, _ in srv.addresses} == {"127.0.0.1", "::1"}
        assert {p for _, p in srv.addresses} == {srv.port} and srv.port > 0
        idle = Raw(srv.port, host="::1")  # left open: stop must end it
        assert idle.line().startswith(b"220")
    assert set(threading.enumerate()) == before
    assert _refused("127.0.0.1", srv.port) and _refused("::1", srv.port)
    assert srv.wait_sessions(1, 1)
    s = srv.sessions[0]
    assert s.closed_by == "server" and s.ended is not None
    assert "server stopped" in [ln.note for ln in s.lines]
    assert idle.read_for(1)[1] in ("eof", "reset")


def test_named_address_and_fixed_port() -> None:
    with Pop3Emulator(bind="127.0.0.1") as a:
        port = a.port
        assert a.addresses == [("127.0.0.1", port)]
        assert _refused("::1", port)
        with pytest.raises(OSError):
            Pop3Emulator(bind="127.0.0.1", port=port).start()
    with Pop3Emulator(port=port) as b:
        assert b.port == port


def test_wait_sessions_times_out_and_counts() -> None:
    with Pop3Emulator(maildrops={"device": Maildrop(PASSWORD)}, quit_wait=0.1) as srv:
        assert srv.wait_sessions(1, 0.05) is False
        done = threading.Event()
        threading.Thread(target=lambda: (srv.wait_sessions(2, 5), done.set()), daemon=True).start()
        for _ in range(2):
            c = Raw(srv.port)
            c.line()
            c.cmd(b"QUIT")
        assert done.wait(5) and srv.ended_sessions == 2


def test_transcript_files(tmp_path: Path) -> None:
    with SmtpEmulator(users={"device": PASSWORD}) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="b.test", timeout=5) as c:
            c.login("device", PASSWORD)
            c.sendmail("a@b.test", ["c@d.test"], b"Subject: s\r\n\r\n\xe9t\xe9\r\n")
        assert srv.wait_sessions(1, 5)
    srv.transcript.write(tmp_path / "t.txt")
    srv.transcript.write_json(tmp_path / "t.json")
    text = (tmp_path / "t.txt").read_text()
    assert "AUTH PLAIN ********" in text and PASSWORD not in text
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc[0]["auth_ok"] is True and doc[0]["messages"][0]["data"].endswith("\xe9t\xe9\r\n")


def test_serve_entry(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    (maildir / "device").mkdir(parents=True)
    (maildir / "device" / "1.eml").write_bytes(b"Subject: a\n\nfrom the maildir\n")
    plan = tmp_path / "plan.json"
    plan.write_text(FaultPlan([FaultRule("NOOP", "reply", line="250 fault plan applied", protocol="smtp")]).to_json())
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.servers.serve", "--pop3-port", "0", "--smtp-port", "0",
         "--bind", "127.0.0.1", "--user", f"device:{PASSWORD}", "--maildir", str(maildir),
         "--fault-plan", str(plan), "--transcript-dir", str(out)],
        stdout=subprocess.PIPE, text=True)
    try:
        ports = {}
        assert proc.stdout is not None
        while len(ports) < 2:
            line = proc.stdout.readline()
            assert line, "serve exited early"
            if " listening on " in line:
                ports[line.split()[0]] = int(line.rsplit(":", 1)[1])
        p = poplib.POP3("127.0.0.1", ports["pop3"], timeout=5)
        p.apop("device", PASSWORD)
        assert p.retr(1)[1] == [b"Subject: a", b"", b"from the maildir"]
        p.quit()
        with smtplib.SMTP("127.0.0.1", ports["smtp"], local_hostname="b.test", timeout=5) as c:
            c.login("device", PASSWORD)
            assert c.noop() == (250, b"fault plan applied")
            c.sendmail("a@b.test", ["c@d.test"], b"Subject: s\r\n\r\nstored\r\n")
        deadline = time.monotonic() + 5
        while not (out / "smtp-message-1.eml").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=10)[0]
    assert proc.returncode == 0
    assert "pop3: 1 sessions" in rest and "smtp: 1 sessions" in rest
    assert (out / "smtp-message-1.eml").read_bytes() == b"Subject: s\r\n\r\nstored\r\n"
    txt = (out / "pop3-transcript.txt").read_text() + (out / "smtp-transcript.txt").read_text()
    assert "APOP device ********" in txt and PASSWORD not in txt
    assert json.loads((out / "smtp-transcript.json").read_text())[0]["faults"] == [
        "NOOP reply line='250 fault plan applied'"]
