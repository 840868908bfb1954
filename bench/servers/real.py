"""Real Debian mail servers as their own processes on loopback: the external-server
tests and the server benchmark run them.

POP3: dovecot-pop3d with APOP (``auth_mechanisms = plain apop``, a plaintext
passdb), its Maildir filled with the test's messages. SMTP: Debian's
python3-aiosmtpd run by the system interpreter as its own process
(``aiosmtpd_server.py``), AUTH PLAIN and LOGIN over plain TCP, every accepted
mail saved as it was stored. Both have their own config in a temp dir and are
stopped at the end.
"""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-aiosmtpd lives there, not in the venv

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain apop
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {uid}
mail_location = maildir:{d}/home/%u/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{proc.args[0]} did not start on port {port}:\n{said}") from None
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Dovecot:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def dovecot(user: str, password: str, messages: tuple[bytes, ...]) -> Iterator[Dovecot]:
    """dovecot-pop3d on 127.0.0.1 with one user whose Maildir holds ``messages`` in order."""
    d = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        d.chmod(0o755)
        nobody = pwd.getpwnam("nobody")
        port = free_port()
        conf = d / "dovecot.conf"
        conf.write_text(DOVECOT_CONF.format(d=d, port=port, uid=nobody.pw_uid, gid=nobody.pw_gid))
        (d / "users").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        new = d / "home" / user / "Maildir" / "new"
        for sub in ("new", "cur", "tmp"):
            (new.parent / sub).mkdir(parents=True, exist_ok=True)
        for i, msg in enumerate(messages, 1):  # Maildir files hold LF; dovecot serves CRLF
            (new / f"{1000 + i}.M{i}P1.bench").write_bytes(msg.replace(b"\r\n", b"\n"))
            os.utime(new / f"{1000 + i}.M{i}P1.bench", (1000 + i, 1000 + i))
        for p in [d / "home", *(d / "home").rglob("*")]:
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _wait_listening(port, proc, d / "dovecot.log")
        yield Dovecot(port, d, proc)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class Aiosmtpd:
    port: int
    spool: Path  # one <n>.eml (the stored content) and <n>.json (envelope) per accepted mail
    proc: subprocess.Popen[bytes]

    def stored(self) -> list[tuple[dict, bytes]]:
        names = sorted(self.spool.glob("*.json"), key=lambda p: int(p.stem))
        return [(json.loads(p.read_text()), p.with_suffix(".eml").read_bytes()) for p in names]


@contextlib.contextmanager
def aiosmtpd(users: dict[str, str]) -> Iterator[Aiosmtpd]:
    """Debian's aiosmtpd on 127.0.0.1, AUTH PLAIN/LOGIN against ``users``, as its own process."""
    d = Path(tempfile.mkdtemp(prefix="bench-aiosmtpd-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        (d / "users.json").write_text(json.dumps(users))
        (d / "spool").mkdir()
        log = d / "aiosmtpd.log"
        script = Path(__file__).with_name("aiosmtpd_server.py")
        with log.open("wb") as out:
            proc = subprocess.Popen([SYSTEM_PYTHON, str(script), str(port), str(d / "users.json"), str(d / "spool")],
                                    stdout=out, stderr=subprocess.STDOUT)
        _wait_listening(port, proc, log)
        yield Aiosmtpd(port, d / "spool", proc)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(d, ignore_errors=True)
