"""A server transcript rebuilt from the capture, for servers the bench does not run.

A real POP3 or SMTP server keeps no transcript the bench can read, so the
sessions are read back from the wire in the emulators' own data structures
(``bench.servers.transcript``): the lines each side sent, the commands, the
login (method, user, whether the server accepted it), the RETRs a POP3 server
answered and the items it deleted at UPDATE, the mails an SMTP server accepted
(the DATA section unstuffed, as the server must store it), who closed. The
transcript's ``source`` says it came from the wire. What only an emulator knows
(fault hits, the server's internal state) is absent: no faults are used against
a real server.

Passwords are redacted as the emulators redact them: ``PASS``, the ``APOP``
digest, ``AUTH`` initial responses and every SASL continuation line.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.capture.tcpflow import Connection, StreamLine, fmt_endpoint, lines, read_connections
from bench.servers.transcript import Session, StoredMessage, Transcript, TranscriptLine, redact

SOURCE = "wire"  # Transcript.source of a transcript rebuilt here
REDACTED = redact("x").encode()
_POP3_MULTI = {"RETR", "TOP", "CAPA"}  # multi-line on +OK; LIST and UIDL only without an argument


def _eol(line: bytes) -> bytes:
    return line[len(line.rstrip(b"\r\n")):]


def _verb_arg(line: bytes) -> tuple[str, str]:
    verb, _, arg = line.rstrip(b"\r\n").decode("latin-1").partition(" ")
    return verb.upper(), arg.strip()


@dataclass
class _Replies:
    """The server's lines, taken reply by reply."""

    items: list[StreamLine]
    i: int = 0

    def take(self, until: callable) -> list[StreamLine]:  # type: ignore[valid-type]
        got: list[StreamLine] = []
        while self.i < len(self.items):
            ln = self.items[self.i]
            self.i += 1
            got.append(ln)
            if until(got):
                break
        return got

    def rest(self) -> list[StreamLine]:
        got, self.i = self.items[self.i:], len(self.items)
        return got


@dataclass
class _Builder:
    session: Session
    records: list[TranscriptLine] = field(default_factory=list)

    def client(self, ln: StreamLine, shown: bytes | None = None) -> None:
        self._add(ln.time, "c>s", ln.text if shown is None else shown, "" if shown is None else "redacted")

    def server(self, reply: list[StreamLine]) -> bytes:
        """One reply (all its lines) as one record, as an emulator writes it; its bytes."""
        data = b"".join(ln.text for ln in reply)
        if reply:
            self._add(reply[-1].time, "s>c", data)
        return data

    def _add(self, t: float, direction: str, data: bytes, note: str = "") -> None:
        self.records.append(TranscriptLine(t, self.session.id, direction, data, note))  # type: ignore[arg-type]

    def done(self) -> Session:
        self.session.lines = sorted(self.records, key=lambda r: r.t)  # stable: a reply after its command
        return self.session


def _session(sid: int, protocol: str, conn: Connection) -> _Builder:
    first = conn.first_close
    closed = None if first is None else first.side
    s = Session(sid, protocol, fmt_endpoint(conn.client), conn.start, conn.end, closed_by=closed)  # type: ignore[arg-type]
    return _Builder(s)


# -- POP3 ---------------------------------------------------------------------------
def _pop3_redact(line: bytes) -> bytes | None:
    parts = line.split()
    verb = parts[0].upper() if parts else b""
    if verb == b"PASS" and len(parts) > 1:
        return line[:4] + b" " + REDACTED + _eol(line)
    if verb == b"APOP" and len(parts) > 2:
        return line[:4] + b" " + parts[1] + b" " + REDACTED + _eol(line)
    return None


def _pop3_multi(verb: str, arg: str) -> bool:
    return verb in _POP3_MULTI or (verb in ("LIST", "UIDL") and not arg)


def unstuff(body: list[bytes]) -> bytes:
    """A multi-line body's lines (terminator excluded) without their dot-stuffing."""
    return b"".join(ln[1:] if ln.startswith(b".") else ln for ln in body)


def pop3_session(sid: int, conn: Connection) -> tuple[Session, dict[int, bytes]]:
    """One POP3 session from the wire, and the messages RETR delivered (item -> octets, unstuffed)."""
    b = _session(sid, "pop3", conn)
    s, replies = b.session, _Replies(lines(conn.s2c))
    b.server(replies.take(lambda got: True))  # greeting
    served: dict[int, bytes] = {}
    pending_user, marked = "", []
    for ln in lines(conn.c2s):
        verb, arg = _verb_arg(ln.text)
        b.client(ln, _pop3_redact(ln.text))
        s.commands.append(verb)
        first = replies.take(lambda got: True)
        ok = bool(first) and first[0].text.startswith(b"+OK")
        body: list[StreamLine] = []
        if ok and _pop3_multi(verb, arg):
            body = replies.take(lambda got: got[-1].text in (b".\r\n", b".\n"))
        b.server(first + body)
        if verb == "USER":
            pending_user = arg
        elif verb in ("PASS", "APOP"):
            s.auth_method = "user" if verb == "PASS" else "apop"
            s.auth_user = pending_user if verb == "PASS" else arg.split(" ")[0]
            s.auth_ok = ok
        elif verb == "RETR" and ok and arg.isdigit():
            s.retrieved.append(int(arg))
            served[int(arg)] = unstuff([x.text for x in body[:-1]])
        elif verb == "DELE" and ok and arg.isdigit():
            marked.append(int(arg))
        elif verb == "RSET" and ok:
            marked = []
        elif verb == "QUIT" and ok and s.auth_ok:
            s.deleted = sorted(marked)
    b.server(replies.rest())
    return b.done(), served


# -- SMTP ---------------------------------------------------------------------------
def _smtp_reply_done(got: list[StreamLine]) -> bool:
    text = got[-1].text
    return len(text) < 4 or text[3:4] != b"-"


def _code(reply: bytes) -> int:
    return int(reply[:3]) if reply[:3].isdigit() else 0


def _b64(text: bytes) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _address(arg: str) -> str:
    start, end = arg.find("<"), arg.find(">")
    return arg[start + 1:end] if 0 <= start < end else arg.partition(":")[2].strip()


def smtp_session(sid: int, conn: Connection) -> Session:
    """One SMTP session from the wire: AUTH, envelope and every mail the server accepted."""
    b = _session(sid, "smtp", conn)
    s, replies = b.session, _Replies(lines(conn.s2c))
    b.server(replies.take(_smtp_reply_done))  # greeting
    client: Iterator[StreamLine] = iter(lines(conn.c2s))
    mail_from, rcpt = "", []
    for ln in client:
        verb, arg = _verb_arg(ln.text)
        parts = ln.text.split(None, 2)
        shown = b"AUTH " + parts[1] + b" " + REDACTED + _eol(ln.text) if verb == "AUTH" and len(parts) == 3 else None
        b.client(ln, shown)
        s.commands.append(verb)
        reply = b.server(replies.take(_smtp_reply_done))
        if verb == "AUTH":
            mech, _, initial = arg.partition(" ")
            s.auth_method = mech.lower()
            answers = [initial.encode()] if initial else []
            while _code(reply) == 334:  # continuation lines: always redacted
                nxt = next(client, None)
                if nxt is None:
                    break
                b.client(nxt, REDACTED + _eol(nxt.text))
                answers.append(nxt.text)
                reply = b.server(replies.take(_smtp_reply_done))
            decoded = [_b64(a) for a in answers]
            if mech.upper() == "PLAIN" and decoded and decoded[0].count(b"\0") == 2:
                s.auth_user = decoded[0].split(b"\0")[1].decode("latin-1")
            elif mech.upper() == "LOGIN" and decoded:
                s.auth_user = decoded[0].decode("latin-1")
            s.auth_ok = _code(reply) == 235
        elif verb == "MAIL" and _code(reply) == 250:
            mail_from, rcpt = _address(arg), []
        elif verb == "RCPT" and _code(reply) in (250, 251):
            rcpt.append(_address(arg))
        elif verb == "RSET":
            mail_from, rcpt = "", []
        elif verb == "DATA" and _code(reply) == 354:
            raw: list[bytes] = []
            for dl in client:
                b.client(dl)
                raw.append(dl.text)
                if dl.text == b".\r\n":
                    break
            final = b.server(replies.take(_smtp_reply_done))
            if raw and raw[-1] == b".\r\n" and 200 <= _code(final) < 300:
                s.messages.append(StoredMessage(sid, mail_from, list(rcpt), unstuff(raw[:-1]), b"".join(raw)))
            mail_from, rcpt = "", []
    b.server(replies.rest())
    return b.done()


# -- a whole capture ------------------------------------------------------------------
@dataclass(frozen=True)
class WireTranscript:
    """The transcript of one server and, for POP3, the messages its RETRs delivered."""

    transcript: Transcript
    served: dict[str, dict[int, bytes]]  # POP3: user -> item -> message octets as delivered


def from_capture(pcap: Path | None, protocol: str, port: int, name: str = "") -> WireTranscript:
    """Every connection to TCP ``port`` in ``pcap`` as a session of ``protocol`` ("pop3"/"smtp")."""
    t = Transcript(server=name or f"{protocol} (from the wire)", source=SOURCE)
    served: dict[str, dict[int, bytes]] = {}
    conns = [c for c in read_connections(pcap) if c.server[1] == port] if pcap is not None and pcap.exists() else []
    for sid, conn in enumerate(conns, 1):
        if protocol == "pop3":
            session, got = pop3_session(sid, conn)
            if session.auth_user:
                served.setdefault(session.auth_user, {}).update(got)
        else:
            session = smtp_session(sid, conn)
        t.sessions.append(session)
    return WireTranscript(t, served)
