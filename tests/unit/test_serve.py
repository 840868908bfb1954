"""``bench serve`` for a person at a bench: real Maildir and mbox, one line per session, PIPELINING."""
from __future__ import annotations

import mailbox
import poplib
import re
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from bench.config import project_root
from bench.servers.maildrop import Maildrop, mail_format


def _message(n: int) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = f"a{n}@bench.test", "device@bench.test", f"message {n}"
    m.set_content(f"body {n}\n.leading dot\n")
    return m


def test_a_real_maildir_is_read_from_new_and_cur(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    first = box.add(_message(1))
    box.add(_message(2))
    seen = box[first]
    seen.set_subdir("cur")  # a message a mail reader has already seen: moved to cur/
    box[first] = seen
    box.close()
    assert list((tmp_path / "Maildir" / "cur").iterdir()) and list((tmp_path / "Maildir" / "new").iterdir())
    drop = Maildrop.load("pw", tmp_path / "Maildir")
    assert mail_format(tmp_path / "Maildir") == "maildir"
    assert sorted(b"Subject: message 1" in m for m in drop.messages) == [False, True]
    assert len(drop.messages) == 2 and all(b"\r\n" in m and b"\n" not in m.replace(b"\r\n", b"") for m in drop.messages)


def test_an_mbox_file_is_one_message_per_from_line(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for n in (1, 2, 3):
        box.add(_message(n))
    box.close()
    drop = Maildrop.load("pw", tmp_path / "inbox.mbox")
    assert [m.split(b"Subject: ")[1].split(b"\r\n")[0] for m in drop.messages] == [b"message 1", b"message 2",
                                                                                 b"message 3"]
    assert not any(m.startswith(b"From ") for m in drop.messages)  # the mbox separator is not the message


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=project_root())


def test_missing_maildir_is_one_line() -> None:
    run = _serve("--maildir", "/no/such/Maildir", "--user", "u:p", "--duration", "1")
    out, err = run.communicate(timeout=30)
    assert run.returncode == 2
    assert err.strip() == "bench serve: --maildir /no/such/Maildir: no such file or directory"


def test_one_line_per_session_and_pipelining(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(_message(1))
    box.close()
    run = _serve("--smtp-port", "0", "--pop3-port", "0", "--bind", "127.0.0.1", "--user", "dev:pw",
                 "--maildir", str(tmp_path / "Maildir"), "--pipelining", "--duration", "8")
    assert run.stdout is not None
    lines: list[str] = []
    ports: dict[str, int] = {}
    while len(ports) < 2:
        line = run.stdout.readline()
        assert line, run.communicate()[1]
        lines.append(line)
        if " listening on " in line:
            proto = line.split()[0]
            ports[proto] = int(line.rsplit(":", 1)[1])
    assert any(ln.startswith("pop3: dev: 1 messages (maildir ") for ln in lines)
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=5) as smtp:
        smtp.ehlo("device.bench.test")
        assert smtp.has_extn("pipelining")
        smtp.login("dev", "pw")
        smtp.sendmail("dev@bench.test", ["inbox@bench.test"], b"Subject: hi\r\n\r\nhello\r\n")
    smtp_line = _session_line(run)  # printed as the session ends, not at exit
    assert " smtp #1 127.0.0.1:" in smtp_line and "EHLO AUTH MAIL RCPT DATA QUIT" in smtp_line, smtp_line
    assert "1 message(s) stored" in smtp_line and "closed by client" in smtp_line
    pop = poplib.POP3("127.0.0.1", ports["pop3"], timeout=5)
    assert "PIPELINING" in pop.capa()
    pop.user("dev")
    pop.pass_("pw")
    assert pop.stat()[0] == 1
    pop.retr(1)
    pop.quit()
    pop_line = _session_line(run)
    assert " pop3 #1 " in pop_line and "auth user:dev ok" in pop_line and "retrieved 1" in pop_line, pop_line
    run.terminate()
    run.communicate(timeout=30)


def _session_line(run: subprocess.Popen[str]) -> str:
    assert run.stdout is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = run.stdout.readline()
        if re.search(r" (smtp|pop3) #\d+ ", line):
            return line
    raise AssertionError("no session line")
