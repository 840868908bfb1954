"""POP3 server emulator (RFC 1939, CAPA from RFC 2449), own asyncio server.

Twisted's POP3 server cannot do APOP on Python 3 and always puts a timestamp in
its greeting; this one shares the fault engine and transcript recording with
the SMTP emulator (:mod:`bench.servers.base`).

UPDATE semantics: items marked with DELE are removed only when the client sends
QUIT in the TRANSACTION state; a dropped connection deletes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from bench.servers.base import Closed, Conn, Emulator
from bench.servers.maildrop import Maildrop, stuff
from bench.servers.transcript import Session, redact

COMMAND_MAX = 255  # RFC 2449 section 4, CRLF included
REDACTED = redact("x").encode()
HOSTNAME = "bench.test"


@dataclass
class _State:
    user: str | None = None  # name given by USER
    drop: Maildrop | None = None  # set in TRANSACTION
    deleted: set[int] = field(default_factory=set)  # 0-based
    timestamp: str | None = None
    quit: bool = False


def ok(text: str = "") -> bytes:
    return (f"+OK {text}" if text else "+OK").encode("latin-1") + b"\r\n"


def err(text: str) -> bytes:
    return f"-ERR {text}".encode("latin-1") + b"\r\n"


class Pop3Emulator(Emulator):
    """A POP3 server over the given maildrops (user name -> :class:`Maildrop`).

    apop: the greeting carries an APOP timestamp, unique per greeting as RFC 1939
    section 7 asks: ``<process-id.counter.clock@bench.test>``. ``seed`` makes
    the process id and clock come from ``random.Random(seed)`` (the counter still
    counts), so a test sees the same timestamps every run; ``timestamp`` (a
    template, ``{session}`` is the session number) fixes them outright.
    False: a greeting with no timestamp, APOP answered -ERR.
    reject_apop: APOP always answered -ERR, even with the right digest.
    capabilities: the CAPA list.
    """

    protocol: ClassVar[str] = "pop3"
    malformed_line: ClassVar[str] = "OK malformed reply"

    def __init__(self, *, maildrops: dict[str, Maildrop] | None = None, apop: bool = True,
                 reject_apop: bool = False, timestamp: str | None = None, seed: int | None = None,
                 greeting: str = "POP3 mailbench ready",
                 capabilities: Sequence[str] = ("TOP", "USER", "UIDL", "RESP-CODES",
                                                "IMPLEMENTATION mailbench"),
                 **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.maildrops = dict(maildrops or {})
        self.apop = apop
        self.reject_apop = reject_apop
        self.timestamp = timestamp
        self._greetings = itertools.count(1)
        rng = random.Random(seed) if seed is not None else None
        self._pid = rng.randrange(1, 1 << 22) if rng else os.getpid()
        self._clock0 = rng.randrange(10 ** 9, 2 * 10 ** 9) if rng else None
        self.greeting = greeting
        self.capabilities = list(capabilities)

    @classmethod
    def from_spec(cls, maildrops: dict[str, Maildrop | tuple[str, Sequence[bytes]]], *,
                  hosts: str | Sequence[str] | None = None, **kw: object) -> Pop3Emulator:
        """Build from ``user -> Maildrop`` or ``user -> (password, messages)``;
        ``hosts`` is an alias of ``bind``."""
        drops = {u: d if isinstance(d, Maildrop) else Maildrop(password=d[0], messages=list(d[1]))
                 for u, d in maildrops.items()}
        if hosts is not None:
            kw["bind"] = hosts
        return cls(maildrops=drops, **kw)  # type: ignore[arg-type]

    # -- hooks ---------------------------------------------------------------
    def redact_line(self, line: bytes) -> bytes | None:
        parts = line.split()
        verb = parts[0].upper() if parts else b""
        eol = b"\r\n" if line.endswith(b"\r\n") else (b"\n" if line.endswith(b"\n") else b"")
        if verb == b"PASS" and len(parts) > 1:
            return line[:4] + b" " + REDACTED + eol
        if verb == b"APOP" and len(parts) > 2:
            return line[:4] + b" " + parts[1] + b" " + REDACTED + eol
        return None

    def strip_terminator(self, data: bytes) -> bytes:
        return data[:-3] if data.endswith(b"\r\n.\r\n") else data

    def next_timestamp(self, session: int) -> str:
        """The APOP timestamp of the next greeting: never the same twice."""
        if self.timestamp is not None:
            return self.timestamp.format(session=session)
        n = next(self._greetings)
        clock = self._clock0 + n if self._clock0 is not None else time.time_ns() // 1000
        return f"<{self._pid}.{n}.{clock}@{HOSTNAME}>"

    # -- session ---------------------------------------------------------------
    async def serve_session(self, conn: Conn) -> None:
        st = _State()
        if self.apop:
            st.timestamp = self.next_timestamp(conn.session.id)
        greet = self.greeting + (f" {st.timestamp}" if st.timestamp else "")
        try:
            await conn.respond("greeting", lambda: ok(greet))
            while True:
                cmd = await conn.read_command()
                if len(cmd.line) > COMMAND_MAX:
                    await conn.respond(cmd.verb, lambda: err("line too long"))
                    continue
                await conn.respond(cmd.verb, lambda: self._command(conn.session, st, cmd.verb, cmd.arg))
                if st.quit:
                    await self.finish_quit(conn)
                    raise Closed("quit")
        finally:
            if st.drop is not None:
                st.drop.lock.release()

    def _command(self, s: Session, st: _State, verb: str, arg: str) -> bytes:
        auth_cmds = {"USER", "PASS", "APOP", "QUIT", "CAPA"}
        trans_cmds = {"STAT", "LIST", "RETR", "DELE", "RSET", "NOOP", "QUIT", "UIDL", "TOP", "CAPA"}
        if st.drop is None and verb not in auth_cmds:
            return err("command not valid in this state" if verb in trans_cmds else "unknown command")
        if st.drop is not None and verb not in trans_cmds:
            return err("command not valid in this state" if verb in auth_cmds else "unknown command")
        return getattr(self, f"_cmd_{verb.lower()}")(s, st, arg)

    # AUTHORIZATION
    def _cmd_user(self, s: Session, st: _State, arg: str) -> bytes:
        if not arg:
            return err("USER needs a name")
        st.user = arg
        return ok("send PASS")

    def _cmd_pass(self, s: Session, st: _State, arg: str) -> bytes:
        if st.user is None:
            return err("USER first")
        user, st.user = st.user, None
        drop = self.maildrops.get(user)
        s.auth_method, s.auth_user = "user", user
        return self._login(s, st, drop, drop is not None and drop.password == arg)

    def _cmd_apop(self, s: Session, st: _State, arg: str) -> bytes:
        user, _, digest = arg.partition(" ")
        s.auth_method, s.auth_user = "apop", user
        if self.reject_apop or st.timestamp is None:
            s.auth_ok = False
            return err("APOP not supported")
        drop = self.maildrops.get(user)
        good = drop is not None and hmac.compare_digest(
            hashlib.md5((st.timestamp + drop.password).encode()).hexdigest(), digest.strip().lower())
        return self._login(s, st, drop, good)

    def _login(self, s: Session, st: _State, drop: Maildrop | None, good: bool) -> bytes:
        if not good or drop is None:
            s.auth_ok = False
            return err("[AUTH] invalid user name or password")
        if not drop.lock.acquire(blocking=False):
            s.auth_ok = False
            return err("[IN-USE] maildrop already locked")
        s.auth_ok = True
        st.drop, st.deleted = drop, set()
        n, size = self._stat(st)
        return ok(f"maildrop has {n} messages ({size} octets)")

    # TRANSACTION
    def _stat(self, st: _State) -> tuple[int, int]:
        assert st.drop is not None
        live = [i for i in range(len(st.drop.messages)) if i not in st.deleted]
        return len(live), sum(st.drop.size(i) for i in live)

    def _item(self, st: _State, arg: str) -> int | bytes:
        """0-based index of a live item, or the -ERR reply."""
        assert st.drop is not None
        word = arg.split(" ")[0] if arg else ""
        if not word.isdigit():
            return err("message number required")
        i = int(word) - 1
        if i < 0 or i >= len(st.drop.messages):
            return err("no such message")
        if i in st.deleted:
            return err(f"message {i + 1} already deleted")
        return i

    def _cmd_stat(self, s: Session, st: _State, arg: str) -> bytes:
        n, size = self._stat(st)
        return ok(f"{n} {size}")

    def _cmd_list(self, s: Session, st: _State, arg: str) -> bytes:
        assert st.drop is not None
        if arg:
            i = self._item(st, arg)
            return i if isinstance(i, bytes) else ok(f"{i + 1} {st.drop.size(i)}")
        n, size = self._stat(st)
        lines = [f"{i + 1} {st.drop.size(i)}\r\n" for i in range(len(st.drop.messages)) if i not in st.deleted]
        return ok(f"{n} messages ({size} octets)") + "".join(lines).encode() + b".\r\n"

    def _cmd_uidl(self, s: Session, st: _State, arg: str) -> bytes:
        assert st.drop is not None and st.drop.uids is not None
        if arg:
            i = self._item(st, arg)
            return i if isinstance(i, bytes) else ok(f"{i + 1} {st.drop.uids[i]}")
        lines = [f"{i + 1} {st.drop.uids[i]}\r\n" for i in range(len(st.drop.messages)) if i not in st.deleted]
        return ok() + "".join(lines).encode() + b".\r\n"

    def _cmd_retr(self, s: Session, st: _State, arg: str) -> bytes:
        assert st.drop is not None
        i = self._item(st, arg)
        if isinstance(i, bytes):
            return i
        s.retrieved.append(i + 1)
        return ok(f"{st.drop.size(i)} octets") + stuff(st.drop.messages[i])

    def _cmd_top(self, s: Session, st: _State, arg: str) -> bytes:
        assert st.drop is not None
        words = arg.split()
        if len(words) != 2 or not words[1].isdigit():
            return err("usage: TOP msg n")
        i = self._item(st, words[0])
        if isinstance(i, bytes):
            return i
        head, sep, body = st.drop.messages[i].partition(b"\r\n\r\n")
        lines = [ln + b"\r\n" for ln in body.split(b"\r\n")]
        if body.endswith(b"\r\n") or not body:
            lines = lines[:-1]
        part = head + sep + b"".join(lines[:int(words[1])])
        return ok("top of message follows") + stuff(part)

    def _cmd_dele(self, s: Session, st: _State, arg: str) -> bytes:
        i = self._item(st, arg)
        if isinstance(i, bytes):
            return i
        st.deleted.add(i)
        return ok(f"message {i + 1} deleted")

    def _cmd_rset(self, s: Session, st: _State, arg: str) -> bytes:
        st.deleted = set()
        n, size = self._stat(st)
        return ok(f"maildrop has {n} messages ({size} octets)")

    def _cmd_noop(self, s: Session, st: _State, arg: str) -> bytes:
        return ok()

    def _cmd_capa(self, s: Session, st: _State, arg: str) -> bytes:
        return ok("Capability list follows") + "".join(c + "\r\n" for c in self.capabilities).encode() + b".\r\n"

    def _cmd_quit(self, s: Session, st: _State, arg: str) -> bytes:
        st.quit = True
        if st.drop is None:
            return ok("mailbench POP3 server signing off")
        s.deleted = sorted(i + 1 for i in st.deleted)
        st.drop.expunge(st.deleted)
        st.deleted = set()
        return ok(f"mailbench POP3 server signing off ({len(st.drop.messages)} messages left)")
