"""Command/reply structure of POP3 and SMTP connections, read from reassembled streams.

Client "units" (a command line, or an SMTP DATA section) are paired with the
server reply that precedes them: unit ``k`` must not start before reply ``k``
(reply 0 is the greeting) is complete. Frame numbers give the order. Bulk
text (a DATA section, a RETR body) is kept as a stream range, not cut into
lines, so long transfers stay cheap. Parsed dialogues are cached on the
connection.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bench.capture.tcpflow import Connection, Direction, StreamLine, line_around, line_at, lines

POP3_MULTILINE = frozenset({b"RETR", b"TOP", b"CAPA"})
POP3_MULTILINE_NOARG = frozenset({b"LIST", b"UIDL"})


@dataclass(frozen=True)
class Reply:
    """One server reply: stream range ``start:end`` of the server direction.

    ``lines`` holds every line of an SMTP reply; of a POP3 multi-line reply only
    the status line and the last line (the body stays in the range).
    """

    lines: tuple[StreamLine, ...]
    complete: bool  # terminator seen (line end / ".\r\n" line / final SMTP line)
    start: int
    end: int

    @property
    def first(self) -> StreamLine:
        return self.lines[0]

    @property
    def last_packet(self) -> int:
        """Frame that carried the reply's last byte."""
        return self.lines[-1].last_packet

    @property
    def code(self) -> bytes:
        """SMTP code (``b"250"``) or POP3 status (``b"+OK"``, ``b"-ERR"``)."""
        parts = self.first.text.split(None, 1)
        return parts[0][:4].rstrip(b"-") if parts else b""


@dataclass(frozen=True)
class Unit:
    """What the client sends before waiting for one reply: a command, or a DATA section."""

    kind: str  # "command" or "data"
    first: StreamLine  # the command line / the DATA section's first line
    start: int  # client stream range
    end: int
    complete: bool = True  # DATA section: terminating "." line seen

    @cached_property
    def verb(self) -> bytes:
        if self.kind == "data":
            return b""
        parts = self.first.body.split(None, 1)
        return parts[0].upper() if parts else b""

    @property
    def argument(self) -> bytes:
        parts = self.first.body.split(None, 1)
        return parts[1] if len(parts) > 1 else b""

    def lines(self, c2s: Direction) -> list[StreamLine]:
        return lines(c2s, self.start, self.end)


@dataclass(frozen=True)
class Dialogue:
    units: list[Unit]
    replies: list[Reply]  # replies[0] is the greeting; replies[k] precedes units[k]

    def reply_before(self, k: int) -> Reply | None:
        return self.replies[k] if k < len(self.replies) else None

    def reply_to(self, k: int) -> Reply | None:
        return self.replies[k + 1] if k + 1 < len(self.replies) else None


def _next_line(d: Direction, pos: int) -> tuple[StreamLine, int]:
    nl = d.stream.find(b"\n", pos)
    end = len(d.stream) if nl < 0 else nl + 1
    return line_at(d, pos, end), end


def _dot_end(stream: bytes, pos: int) -> int:
    """End of the ".\\r\\n" line at or after ``pos`` (a line start); -1 if none."""
    if stream.startswith(b".\r\n", pos):
        return pos + 3
    i = stream.find(b"\n.\r\n", pos - 1 if pos else 0)
    return -1 if i < 0 else i + 4


def pop3_dialogue(conn: Connection) -> Dialogue:
    if "pop3" in conn.cache:
        return conn.cache["pop3"]
    units = [Unit("command", ln, ln.offset, ln.end) for ln in lines(conn.c2s)]
    s2c = conn.s2c
    stream = s2c.stream
    replies: list[Reply] = []
    pos = 0
    for i in range(len(units) + 1):
        if pos >= len(stream):
            break
        first, end = _next_line(s2c, pos)
        unit = units[i - 1] if i else None
        multi = (unit is not None and first.text.startswith(b"+OK") and first.terminated and (
            unit.verb in POP3_MULTILINE or (unit.verb in POP3_MULTILINE_NOARG and not unit.argument)))
        if not multi:
            replies.append(Reply((first,), first.terminated, pos, end))
        else:
            stop = _dot_end(stream, end)
            done = stop >= 0
            stop = stop if done else len(stream)
            last = line_around(s2c, stop - 1)
            replies.append(Reply((first, last) if stop > end else (first,), done, pos, stop))
            end = stop
        pos = end
    d = conn.cache["pop3"] = Dialogue(units, replies)
    return d


def smtp_replies(conn: Connection) -> list[Reply]:
    out: list[Reply] = []
    cur: list[StreamLine] = []
    for line in lines(conn.s2c):
        cur.append(line)
        t = line.text
        if len(t) >= 4 and t[3:4] == b"-" and line.terminated:
            continue
        out.append(Reply(tuple(cur), line.terminated, cur[0].offset, line.end))
        cur = []
    if cur:
        out.append(Reply(tuple(cur), False, cur[0].offset, cur[-1].end))
    return out


def smtp_dialogue(conn: Connection) -> Dialogue:
    if "smtp" in conn.cache:
        return conn.cache["smtp"]
    replies = smtp_replies(conn)
    c2s = conn.c2s
    stream = c2s.stream
    units: list[Unit] = []
    pos = 0
    while pos < len(stream):
        line, end = _next_line(c2s, pos)
        unit = Unit("command", line, pos, end)
        units.append(unit)
        pos = end
        if unit.verb != b"DATA" or unit.argument or pos >= len(stream):
            continue
        reply = replies[len(units)] if len(units) < len(replies) else None
        if reply is not None and reply.code != b"354":
            continue
        stop = _dot_end(stream, pos)  # the DATA section, terminating "." line included
        done = stop >= 0
        stop = stop if done else len(stream)
        first, _ = _next_line(c2s, pos)
        units.append(Unit("data", first, pos, stop, done))
        pos = stop
    d = conn.cache["smtp"] = Dialogue(units, replies)
    return d


#: SMTP command verbs (RFC 5321, 4954, 3207, 3030, 1985); anything else on a command line is not a command
SMTP_VERBS = frozenset({b"EHLO", b"HELO", b"MAIL", b"RCPT", b"DATA", b"BDAT", b"RSET", b"VRFY", b"EXPN",
                        b"HELP", b"NOOP", b"QUIT", b"AUTH", b"STARTTLS", b"ETRN", b"TURN"})


def smtp_spill(d: Dialogue) -> tuple[int, int, Unit] | None:
    """Units that only look like commands because a DATA section ended early: (first unit,
    end unit (exclusive), the DATA section the server took as ended).

    A client that does not dot-stuff sends a body line "." that ends DATA for the server;
    the rest of the body follows at once, before the reply to the DATA section, and the
    dialogue reads it as commands. The spill starts with such a non-command line sent
    before that reply, and runs while units are not commands or are sent early.
    """
    for k, unit in enumerate(d.units):
        if unit.kind != "data" or not unit.complete or k + 1 >= len(d.units):
            continue
        nxt = d.units[k + 1]
        reply = d.reply_to(k)
        early = reply is None or not reply.complete or nxt.first.first_packet < reply.last_packet
        if nxt.kind != "command" or nxt.verb in SMTP_VERBS or not early:
            continue
        end = k + 1
        while end < len(d.units):
            u = d.units[end]
            before = d.reply_before(end)
            waited = before is not None and before.complete and u.first.first_packet > before.last_packet
            if u.kind == "command" and u.verb in SMTP_VERBS and waited:
                break
            end += 1
        return k + 1, end, unit
    return None


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


def smtp_transactions(conn: Connection) -> list[MailTransaction]:
    """MAIL transactions in an SMTP connection's client stream (RSET ends one)."""
    out: list[MailTransaction] = []
    cur: dict | None = None  # type: ignore[type-arg]

    def flush() -> None:
        if cur is not None:
            out.append(MailTransaction(cur["mail"], tuple(cur["rcpts"]), cur["data"], cur["body"]))

    for unit in smtp_dialogue(conn).units:
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
