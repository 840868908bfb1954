"""Command/reply structure of POP3 and SMTP connections, read from reassembled streams.

Client "units" (a command line, or an SMTP DATA section) are paired with the
server reply that precedes them: unit ``k`` must not start before reply ``k``
(reply 0 is the greeting) is complete. Frame numbers give the order.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.capture.tcpflow import Connection, StreamLine, lines

POP3_MULTILINE = frozenset({b"RETR", b"TOP", b"CAPA"})
POP3_MULTILINE_NOARG = frozenset({b"LIST", b"UIDL"})


@dataclass(frozen=True)
class Reply:
    """One server reply (all lines of a multi-line reply)."""

    lines: tuple[StreamLine, ...]
    complete: bool  # terminator seen (last line ended / ".\r\n" seen / final SMTP line)

    @property
    def first(self) -> StreamLine:
        return self.lines[0]

    @property
    def last_packet(self) -> int:
        """Frame that completed the reply."""
        return self.lines[-1].last_packet

    @property
    def code(self) -> bytes:
        """SMTP code (``b"250"``) or POP3 status (``b"+OK"``, ``b"-ERR"``)."""
        return self.first.text.split(None, 1)[0][:4].rstrip(b"-") if self.first.text.strip() else b""

    @property
    def text(self) -> bytes:
        return b"".join(line.text for line in self.lines)


@dataclass(frozen=True)
class Unit:
    """What the client sends before waiting for one reply: a command, or a DATA section."""

    kind: str  # "command" or "data"
    lines: tuple[StreamLine, ...]

    @property
    def first(self) -> StreamLine:
        return self.lines[0]

    @property
    def verb(self) -> bytes:
        if self.kind == "data":
            return b""
        parts = self.first.body.split(None, 1)
        return parts[0].upper() if parts else b""

    @property
    def argument(self) -> bytes:
        parts = self.first.body.split(None, 1)
        return parts[1] if len(parts) > 1 else b""


@dataclass(frozen=True)
class Dialogue:
    units: list[Unit]
    replies: list[Reply]  # replies[0] is the greeting; replies[k] precedes units[k]

    def reply_before(self, k: int) -> Reply | None:
        return self.replies[k] if k < len(self.replies) else None

    def reply_to(self, k: int) -> Reply | None:
        return self.replies[k + 1] if k + 1 < len(self.replies) else None


def pop3_dialogue(conn: Connection) -> Dialogue:
    units = [Unit("command", (line,)) for line in lines(conn.c2s)]
    slines = lines(conn.s2c)
    replies: list[Reply] = []
    k = 0
    for i in range(len(units) + 1):
        if k >= len(slines):
            break
        first = slines[k]
        k += 1
        unit = units[i - 1] if i else None
        multi = (unit is not None and first.text.startswith(b"+OK") and (
            unit.verb in POP3_MULTILINE or (unit.verb in POP3_MULTILINE_NOARG and not unit.argument)))
        if not multi:
            replies.append(Reply((first,), first.terminated))
            continue
        body = [first]
        done = False
        while k < len(slines):
            body.append(slines[k])
            k += 1
            if slines[k - 1].text in (b".\r\n", b".\n"):
                done = True
                break
        replies.append(Reply(tuple(body), done))
    return Dialogue(units, replies)


def smtp_replies(conn: Connection) -> list[Reply]:
    out: list[Reply] = []
    cur: list[StreamLine] = []
    for line in lines(conn.s2c):
        cur.append(line)
        t = line.text
        if len(t) >= 4 and t[3:4] == b"-" and line.terminated:
            continue
        out.append(Reply(tuple(cur), line.terminated))
        cur = []
    if cur:
        out.append(Reply(tuple(cur), False))
    return out


def smtp_dialogue(conn: Connection) -> Dialogue:
    replies = smtp_replies(conn)
    clines = lines(conn.c2s)
    units: list[Unit] = []
    i = 0
    while i < len(clines):
        unit = Unit("command", (clines[i],))
        units.append(unit)
        i += 1
        if unit.verb != b"DATA" or unit.argument:
            continue
        k = len(units) - 1
        reply = replies[k + 1] if k + 1 < len(replies) else None
        if reply is not None and reply.code != b"354":
            continue
        start = i  # the DATA section, up to and including the "." line
        while i < len(clines):
            i += 1
            if clines[i - 1].text in (b".\r\n", b".\n") and (i - 1 == start or clines[i - 2].terminated):
                break
        if i > start:
            units.append(Unit("data", tuple(clines[start:i])))
    return Dialogue(units, replies)


def pipelining_advertised(dialogue: Dialogue) -> bool:
    """True if an EHLO reply listed PIPELINING."""
    for k, unit in enumerate(dialogue.units):
        if unit.verb == b"EHLO":
            reply = dialogue.reply_to(k)
            if reply is not None and reply.code == b"250":
                return any(line.text[4:].split(None, 1)[:1] == [b"PIPELINING"]
                           for line in reply.lines)
    return False


@dataclass(frozen=True)
class MailTransaction:
    """One MAIL FROM and the RCPTs and DATA that followed it."""

    mail: StreamLine
    rcpts: tuple[StreamLine, ...]
    data: StreamLine | None  # the DATA command line
    body: Unit | None  # the DATA section, terminator included


def smtp_transactions(conn: Connection, dialogue: Dialogue | None = None) -> list[MailTransaction]:
    """MAIL transactions in an SMTP connection's client stream (RSET ends one)."""
    d = dialogue or smtp_dialogue(conn)
    out: list[MailTransaction] = []
    cur: dict | None = None

    def flush() -> None:
        if cur is not None:
            out.append(MailTransaction(cur["mail"], tuple(cur["rcpts"]), cur["data"], cur["body"]))

    for unit in d.units:
        verb = unit.verb
        if verb == b"MAIL":
            flush()
            cur = {"mail": unit.first, "rcpts": [], "data": None, "body": None}
        elif cur is None:
            continue
        elif verb == b"RCPT":
            cur["rcpts"].append(unit.first)
        elif verb == b"DATA":
            cur["data"] = unit.first
        elif unit.kind == "data":
            cur["body"] = unit
        elif verb == b"RSET":
            flush()
            cur = None
    flush()
    return out
