"""SMTP server emulator (RFC 5321, AUTH per RFC 4954: PLAIN, LOGIN, CRAM-MD5 on request).

Why not aiosmtpd: the fault vocabulary needs byte-level control of every reply
(split writes, a missing CRLF, an EHLO reply that never ends, an over-long
line) and a way to drop the connection in the middle of DATA. aiosmtpd has no
hook inside DATA (``handle_DATA`` runs after the whole body), an override of
``smtp_DATA`` that closed the transport kept parsing buffered body lines as
commands and once spun the CPU; its ``push`` takes text and appends CRLF
itself; ``Controller(port=0)`` fails and the controller connects to itself at
start (a phantom session in a transcript); and a transcript means wrapping its
private ``data_received``/``push``. A small asyncio server sharing
:mod:`bench.servers.base` with the POP3 emulator gives exact bytes, one fault
engine for both protocols, and dual-stack listening. aiosmtpd stays the
reference in ``benchmarks/bench_servers.py``.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from bench.servers.base import Closed, Conn, Emulator
from bench.servers.transcript import Session, StoredMessage, redact

COMMAND_MAX = 512  # RFC 5321 4.5.3.1.4, CRLF included
REDACTED = redact("x").encode()
_ADDR = re.compile(r"^(FROM|TO):\s*<([^>]*)>(.*)$", re.I)


def reply(code: int, *lines: str) -> bytes:
    """A (multi-line) reply: ``250-a``, ``250-b``, ``250 c``."""
    lines = lines or ("",)
    out = [f"{code}-{t}" for t in lines[:-1]] + [f"{code} {lines[-1]}"]
    return ("\r\n".join(out) + "\r\n").encode("latin-1")


@dataclass
class _State:
    helo: str | None = None  # "EHLO" / "HELO"
    authed: str | None = None
    mail_from: str | None = None
    rcpt: list[str] = field(default_factory=list)
    sasl: str | None = None  # mechanism awaiting a continuation line
    sasl_step: int = 0
    sasl_user: str = ""
    challenge: str = ""
    data: bool = False  # 354 sent, body follows
    quit: bool = False


class SmtpEmulator(Emulator):
    """An SMTP server that stores every message exactly as received.

    users: name -> password; a wrong pair gets 535.
    auth_mechanisms: advertised in EHLO (``[]``: no AUTH line; add ``"CRAM-MD5"``
    to check a client ignores it). advertise_auth=False: EHLO lists no AUTH, yet
    AUTH with those mechanisms is still accepted. ehlo_reply: e.g. 500 or 502.
    require_auth: MAIL needs AUTH first (default: when users and mechanisms exist).
    extensions: other EHLO keywords (PIPELINING is not advertised by default).
    """

    protocol: ClassVar[str] = "smtp"
    malformed_line: ClassVar[str] = "2x0 malformed reply"

    def __init__(self, *, users: dict[str, str] | None = None, hostname: str = "bench.test",
                 auth_mechanisms: Sequence[str] = ("PLAIN", "LOGIN"), ehlo_reply: int | None = None,
                 helo_reply: int | None = None, require_auth: bool | None = None,
                 extensions: Sequence[str] = ("8BITMIME",), max_message_size: int = 64 << 20,
                 greeting: str | None = None, advertise_auth: bool = True, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.users = dict(users or {})
        self.hostname = hostname
        self.auth_mechanisms = [m.upper() for m in auth_mechanisms]
        self.advertise_auth = advertise_auth
        self.ehlo_reply = ehlo_reply
        self.helo_reply = helo_reply
        self.require_auth = (bool(self.users) and bool(self.auth_mechanisms)
                             if require_auth is None else require_auth)
        self.extensions = list(extensions)
        self.max_message_size = max_message_size
        self.greeting = greeting or f"{hostname} ESMTP mailbench"
        self.messages: list[StoredMessage] = []
        self._body_faults = any(r.event == "body" for r in self.plan.rules)

    # -- hooks -------------------------------------------------------------------
    def redact_line(self, line: bytes) -> bytes | None:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].upper() == b"AUTH":
            return b"AUTH " + parts[1] + b" " + REDACTED + _eol(line)
        return None

    def strip_terminator(self, data: bytes) -> bytes:
        """The last line becomes a continuation line: ``250 x`` -> ``250-x``."""
        body = data[:-2] if data.endswith(b"\r\n") else data
        start = body.rfind(b"\r\n") + 2 if b"\r\n" in body else 0
        last = body[start:]
        if len(last) >= 4 and last[3:4] == b" ":
            last = last[:3] + b"-" + last[4:]
        elif len(last) == 3:
            last += b"-"
        return body[:start] + last + b"\r\n"

    # -- session -------------------------------------------------------------------
    async def serve_session(self, conn: Conn) -> None:
        st = _State()
        await conn.respond("greeting", lambda: reply(220, self.greeting))
        while True:
            if conn.last_write.startswith(b"421"):  # RFC 5321 3.8: the server closes
                await conn.abort(reset=False)
                raise Closed("421")
            if st.sasl:
                line = await conn.readline(lambda l: REDACTED + _eol(l))
                ran: list[bool] = []

                def step() -> bytes:
                    ran.append(True)
                    return self._sasl_step(conn.session, st, line)

                await conn.respond("auth-reply", step)
                if not ran:  # a fault answered instead: the exchange is over
                    st.sasl, conn.session.auth_ok = None, False
                continue
            cmd = await conn.read_command()
            if len(cmd.line) > COMMAND_MAX:
                await conn.respond(cmd.verb, lambda: reply(500, "5.5.2 Line too long"))
                continue
            await conn.respond(cmd.verb, lambda: self._command(conn.session, st, cmd.verb, cmd.arg))
            if st.data:
                st.data = False
                await self._read_body(conn, st)
            if st.quit:
                await self.finish_quit(conn)
                raise Closed("quit")

    def _command(self, s: Session, st: _State, verb: str, arg: str) -> bytes:
        handler = getattr(self, f"_cmd_{verb.lower()}", None) if verb.isalpha() else None
        if handler is None:
            return reply(500, "5.5.2 Command unrecognized")
        return handler(s, st, arg)

    def _cmd_ehlo(self, s: Session, st: _State, arg: str) -> bytes:
        if self.ehlo_reply is not None:
            return reply(self.ehlo_reply, "5.5.1 EHLO not supported")
        if not arg:
            return reply(501, "5.5.4 Syntax: EHLO hostname")
        self._reset(st)
        st.helo = "EHLO"
        lines = [self.hostname] + self.extensions
        if self.auth_mechanisms and self.advertise_auth:
            lines.append("AUTH " + " ".join(self.auth_mechanisms))
        return reply(250, *lines, "HELP")

    def _cmd_helo(self, s: Session, st: _State, arg: str) -> bytes:
        if self.helo_reply is not None:
            return reply(self.helo_reply, "5.5.1 HELO not supported")
        if not arg:
            return reply(501, "5.5.4 Syntax: HELO hostname")
        self._reset(st)
        st.helo = "HELO"
        return reply(250, self.hostname)

    def _cmd_auth(self, s: Session, st: _State, arg: str) -> bytes:
        if st.helo is None:
            return reply(503, "5.5.1 Error: send HELO/EHLO first")
        if st.authed:
            return reply(503, "5.5.1 Already authenticated")
        if st.mail_from is not None:
            return reply(503, "5.5.1 AUTH not allowed during a mail transaction")
        mech, _, ir = arg.partition(" ")
        mech = mech.upper()
        if mech not in self.auth_mechanisms:
            return reply(504, "5.5.4 Unrecognized authentication type")
        s.auth_method = mech.lower()
        st.sasl, st.sasl_step = mech, 0
        ir = ir.strip()
        if mech == "CRAM-MD5":
            st.challenge = f"<{s.id}.{len(s.commands)}@{self.hostname}>"
            return reply(334, _b64(st.challenge))
        if ir:
            return self._sasl_step(s, st, (ir + "\r\n").encode("latin-1"))
        return reply(334, "" if mech == "PLAIN" else _b64("Username:"))

    def _sasl_step(self, s: Session, st: _State, line: bytes) -> bytes:
        mech, text = st.sasl, line.rstrip(b"\r\n")
        if text == b"*":
            st.sasl = None
            s.auth_ok = False
            return reply(501, "5.7.0 Authentication cancelled")
        try:
            raw = base64.b64decode(text, validate=True) if text != b"=" else b""
        except (binascii.Error, ValueError):
            st.sasl = None
            s.auth_ok = False
            return reply(501, "5.5.2 Cannot decode response")
        if mech == "PLAIN":
            parts = raw.split(b"\0")
            if len(parts) != 3:
                st.sasl = None
                s.auth_ok = False
                return reply(501, "5.5.2 Malformed PLAIN response")
            return self._auth_done(s, st, _s(parts[1]), self.users.get(_s(parts[1])) == _s(parts[2]))
        if mech == "LOGIN":
            if st.sasl_step == 0:
                st.sasl_user, st.sasl_step = _s(raw), 1
                return reply(334, _b64("Password:"))
            return self._auth_done(s, st, st.sasl_user, self.users.get(st.sasl_user) == _s(raw))
        user, _, digest = _s(raw).rpartition(" ")
        pw = self.users.get(user)
        good = pw is not None and hmac.compare_digest(
            hmac.new(pw.encode(), st.challenge.encode(), "md5").hexdigest(), digest.lower())
        return self._auth_done(s, st, user, good)

    def _auth_done(self, s: Session, st: _State, user: str, good: bool) -> bytes:
        st.sasl = None
        s.auth_user, s.auth_ok = user, good
        if good:
            st.authed = user
            return reply(235, "2.7.0 Authentication successful")
        return reply(535, "5.7.8 Authentication credentials invalid")

    def _cmd_mail(self, s: Session, st: _State, arg: str) -> bytes:
        if st.helo is None:
            return reply(503, "5.5.1 Error: send HELO/EHLO first")
        if self.require_auth and not st.authed:
            return reply(530, "5.7.0 Authentication required")
        if st.mail_from is not None:
            return reply(503, "5.5.1 Error: nested MAIL command")
        m = _ADDR.match(arg)
        if not m or m.group(1).upper() != "FROM":
            return reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
        st.mail_from = m.group(2)
        return reply(250, "2.1.0 OK")

    def _cmd_rcpt(self, s: Session, st: _State, arg: str) -> bytes:
        if st.mail_from is None:
            return reply(503, "5.5.1 Error: need MAIL command")
        m = _ADDR.match(arg)
        if not m or m.group(1).upper() != "TO" or not m.group(2):
            return reply(501, "5.5.4 Syntax: RCPT TO:<address>")
        st.rcpt.append(m.group(2))
        return reply(250, "2.1.5 OK")

    def _cmd_data(self, s: Session, st: _State, arg: str) -> bytes:
        if st.mail_from is None:
            return reply(503, "5.5.1 Error: need MAIL command")
        if not st.rcpt:
            return reply(503, "5.5.1 Error: need RCPT command")
        if arg:
            return reply(501, "5.5.4 Syntax: DATA")
        st.data = True
        return reply(354, "End data with <CR><LF>.<CR><LF>")

    def _cmd_rset(self, s: Session, st: _State, arg: str) -> bytes:
        self._reset(st)
        return reply(250, "2.0.0 OK")

    def _cmd_noop(self, s: Session, st: _State, arg: str) -> bytes:
        return reply(250, "2.0.0 OK")

    def _cmd_quit(self, s: Session, st: _State, arg: str) -> bytes:
        st.quit = True
        return reply(221, f"2.0.0 {self.hostname} closing connection")

    def _cmd_vrfy(self, s: Session, st: _State, arg: str) -> bytes:
        return reply(502, "5.5.1 VRFY not implemented")

    def _cmd_expn(self, s: Session, st: _State, arg: str) -> bytes:
        return reply(502, "5.5.1 EXPN not implemented")

    def _cmd_help(self, s: Session, st: _State, arg: str) -> bytes:
        return reply(214, "2.0.0 EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT")

    @staticmethod
    def _reset(st: _State) -> None:
        st.mail_from, st.rcpt = None, []

    async def _read_body(self, conn: Conn, st: _State) -> None:
        """Read the DATA section; store the message; answer 250 (event ``message``)."""
        raw, data, size, nline = bytearray(), bytearray(), 0, 0
        too_big = False
        while True:
            try:
                line = await conn.reader.readuntil(b"\n")
            except Exception as e:
                partial = getattr(e, "partial", b"")
                if partial:
                    conn.record("c>s", partial, "no line end before close (in DATA)")
                conn.event(f"connection lost in DATA after {len(raw)} octets")
                raise Closed("in data") from None
            conn.record("c>s", line)
            raw += line
            nline += 1
            if self._body_faults:
                rule = conn.pick("body")
                if rule is not None:
                    await conn.apply(rule, lambda: b"")
            if line == b".\r\n":
                break
            size += len(line)
            if size > self.max_message_size:
                too_big = True
                continue
            data += line[1:] if line.startswith(b".") else line
        s = conn.session
        if too_big:
            conn.event(f"message over {self.max_message_size} octets refused")
            msg = None
        else:
            msg = StoredMessage(s.id, st.mail_from or "", list(st.rcpt), bytes(data), bytes(raw))

        def store() -> bytes:
            if msg is None:
                return reply(552, "5.3.4 Message too big")
            s.messages.append(msg)
            self.messages.append(msg)
            conn.event(f"stored message {len(self.messages)}: {len(msg.data)} octets")
            return reply(250, f"2.0.0 OK queued as {len(self.messages)}")

        self._reset(st)
        await conn.respond("message", store)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _eol(line: bytes) -> bytes:
    return b"\r\n" if line.endswith(b"\r\n") else (b"\n" if line.endswith(b"\n") else b"")
