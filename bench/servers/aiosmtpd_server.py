"""An SMTP server from Debian's python3-aiosmtpd, run as its own process by the system
interpreter: AUTH PLAIN and LOGIN over plain TCP against a users file; each accepted
mail saved as ``<n>.eml`` (the content as aiosmtpd stored it: dot-unstuffed) and
``<n>.json`` (envelope).

Usage: ``/usr/bin/python3 aiosmtpd_server.py PORT USERS.json SPOOL_DIR`` (stops on SIGTERM).
"""
import json
import signal
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def _text(data):
    return data.decode("latin-1") if isinstance(data, bytes) else None


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory, self.n = directory, 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.n += 1
        (self.directory / f"{self.n}.eml").write_bytes(envelope.content)
        (self.directory / f"{self.n}.json").write_text(json.dumps({
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "login": _text(getattr(session, "auth_data", None)),
        }))
        return "250 2.0.0 stored"


def authenticator(users):
    def check(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode("latin-1"), auth_data.password.decode("latin-1")
        return AuthResult(success=users.get(user) == password, auth_data=auth_data.login)

    return check


def main() -> None:
    port, users, spool = int(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])
    ctl = Controller(Spool(spool), hostname="127.0.0.1", port=port, authenticator=authenticator(users),
                     auth_required=True, auth_require_tls=False, decode_data=False)
    ctl.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
