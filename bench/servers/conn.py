"""One client connection of an emulator: reading lines, writing replies (paced when
split), applying fault rules and recording everything in the session's transcript."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.agent.device import CLOCK_SLACK
from bench.servers.faults import PSEUDO_EVENTS, REPLACING, FaultRule
from bench.servers.pacing import PeerQueue, set_nodelay, wait_out
from bench.servers.transcript import FaultHit, Session, TranscriptLine

if TYPE_CHECKING:
    from bench.servers.base import Emulator

LINE_LIMIT = 1 << 20  # the longest input line buffered before the session is dropped
STALL_MARGIN_MS = 1_000  # a stall "past the timeout" outlasts the reply timeout by this much
# ... plus CLOCK_SLACK of it: the device's clock may run behind the host's


class Closed(Exception):
    """The connection is gone (peer closed, server closed, or stalled for good)."""


@dataclass(frozen=True)
class Command:
    """One command line as the client sent it, split at the first space."""

    line: bytes  # as received, line end included
    verb: str  # upper-cased
    arg: str  # stripped


class Conn:
    """One client connection: reading lines, writing replies, applying faults, recording."""

    def __init__(self, server: Emulator, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, session: Session) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.session = session
        self.counts: dict[object, int] = {}
        self.client_line = b""  # the last client line as the transcript holds it
        self.command: Command | None = None  # the last command read
        self.hit: FaultHit | None = None  # the latest fault firing
        self.closed = False
        self.last_write = b""  # the bytes of the last reply written (all its chunks)
        self.octets_out = 0  # every octet written on this connection
        self.sock = writer.get_extra_info("socket")
        self._peer: PeerQueue | None = None
        if self.sock is not None:
            set_nodelay(self.sock)  # type: ignore[arg-type]
        writer.transport.set_write_buffer_limits(high=0)  # drain() returns once the kernel has it

    # -- recording ---------------------------------------------------------
    def record(self, direction: str, data: bytes, note: str = "") -> None:
        self.session.lines.append(
            TranscriptLine(time.time(), self.session.id, direction, data, note))  # type: ignore[arg-type]

    def event(self, note: str) -> None:
        self.record("event", b"", note)

    # -- input -------------------------------------------------------------
    async def readline(self, redact: Callable[[bytes], bytes | None] | None = None) -> bytes:
        """The next line from the client, LF included; records it (redacted if asked)."""
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                self.record("c>s", e.partial, "no line end before close")
            self.session.closed_by = self.session.closed_by or "client"
            raise Closed("client closed") from None
        except asyncio.LimitOverrunError:
            self.event(f"input line longer than {LINE_LIMIT} bytes: dropping")
            await self.abort(reset=False, by="server")
            raise Closed("line too long") from None
        except (ConnectionError, OSError):
            self.session.closed_by = self.session.closed_by or "client"
            raise Closed("client reset") from None
        shown = redact(line) if redact else None
        if shown is None:
            self.record("c>s", line)
        else:
            self.record("c>s", shown, "redacted")  # no length: it would give the secret's away
        self.client_line = line if shown is None else shown
        return line

    async def read_command(self) -> Command:
        """The next command line (recorded redacted as the server asks); its verb joins the session's list."""
        line = await self.readline(self.server.redact_line)
        verb, _, arg = line.rstrip(b"\r\n").decode("latin-1").partition(" ")
        command = Command(line, verb.upper(), arg.strip())
        self.session.commands.append(command.verb)
        self.command = command
        return command

    # -- output ------------------------------------------------------------
    async def write(self, data: bytes, chunk: int = 0, gap_ms: int = 0, note: str = "") -> None:
        if self.closed:
            raise Closed("closed")
        parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] if chunk > 0 else [data]
        self.last_write = data
        split = len(parts) > 1
        late = 0
        try:
            peer = self._peer_queue() if split else None
            for i, part in enumerate(parts):
                if i and gap_ms:
                    await asyncio.sleep(gap_ms / 1000)
                self.writer.write(part)
                self.octets_out += len(part)
                self.record("s>c", part, note)
                await self.writer.drain()
                if split and not await wait_out(self.sock, self.writer.transport, peer, self.octets_out):
                    late += 1
        except (ConnectionError, OSError):
            self.closed = True
            self.session.closed_by = self.session.closed_by or "client"
            raise Closed("client reset") from None
        if late:
            self.event(f"split: {late} of {len(parts)} chunks not seen leaving alone in time; "
                       "they may share a segment with the next")

    def _peer_queue(self) -> PeerQueue | None:
        if self._peer is None and self.sock is not None:
            self._peer = PeerQueue(self.sock)  # type: ignore[arg-type]
        return self._peer

    async def abort(self, reset: bool, by: str = "server") -> None:
        """Close with FIN, or with RST when ``reset``."""
        if self.closed:
            return
        self.closed = True
        self.session.closed_by = self.session.closed_by or by  # type: ignore[assignment]
        if reset:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.writer.transport.abort()
        else:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def stall(self, ms: int = 0) -> None:
        """Never answer again: swallow input until the peer leaves, or for ``ms``
        (0: past the client's reply timeout), then close."""
        limit = ms or round(self.server.reply_timeout_ms * (1 + CLOCK_SLACK)) + STALL_MARGIN_MS
        self.event(f"stalling for up to {limit} ms (client reply timeout {self.server.reply_timeout_ms} ms)")
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(limit / 1000):
                while True:
                    await self.readline(self.server.redact_line)
        except TimeoutError:
            self.event(f"stalled {round((time.monotonic() - t0) * 1000)} ms and the client is still "
                       "connected: closing")
            await self.abort(reset=False)
        except Closed:
            self.event(f"client left {round((time.monotonic() - t0) * 1000)} ms into the stall")
            raise

    # -- faults ------------------------------------------------------------
    def pick(self, event: str) -> FaultRule | None:
        """The rule that fires on ``event`` (a verb: the last command read), recorded as a hit."""
        verb = event not in PSEUDO_EVENTS
        arg = self.command.arg if verb and self.command is not None else None
        chosen = self.server.counter.pick(event, self.session.id, self.counts, arg, self.server.step)
        if chosen is None:
            return None
        rule = chosen.rule
        desc = rule.describe()
        command = b"" if event in ("connect", "greeting") else self.client_line
        self.hit = FaultHit(time.time(), self.session.id, chosen.index, desc, rule.action,
                            rule.event if rule.event != "*" else event, command, chosen.nth, rule.scope,
                            offset=self.octets_out, size=rule.size, step=self.server.step)
        self.session.faults.append(desc)
        self.session.hits.append(self.hit)
        self.event(f"fault: {self.hit.describe()}")
        return rule

    async def respond(self, event: str, produce: Callable[[], bytes]) -> None:
        """One exchange: pick a fault for ``event``, run ``produce`` (the command,
        returning its wire reply) unless the fault replaces it, send the result."""
        rule = self.pick(event)
        if rule is None:
            await self.write(produce())
            return
        await self.apply(rule, produce)

    async def apply(self, rule: FaultRule, produce: Callable[[], bytes] | None) -> None:
        hit = self.hit
        if hit is not None:
            hit.offset = self.octets_out
        try:
            await self._apply(rule, produce)
        finally:
            if hit is not None:
                hit.octets = self.octets_out - hit.offset

    async def _apply(self, rule: FaultRule, produce: Callable[[], bytes] | None) -> None:
        a = rule.action
        if rule.ms and a not in ("split", "stall"):
            await asyncio.sleep(rule.ms / 1000)
        if a in REPLACING and not (rule.execute and produce):
            reply = None
        else:
            reply = produce() if produce else b""
        chunk = rule.size if a in ("split", "reply", "malformed", "delay", "no_crlf", "no_terminator") else 0
        gap = rule.ms if a == "split" else 0
        note = f"fault {a}"
        if a in ("reply", "malformed"):
            text = rule.line if rule.line is not None else (
                self.server.malformed_line if a == "malformed" else "")
            data = text.encode("latin-1")
            if not data.endswith(b"\n"):
                data += b"\r\n"
            await self.write(data, chunk, note=note)
        elif a in ("delay", "split"):
            await self.write(reply or b"", chunk, gap, note=note if a == "split" else "")
        elif a == "overlong":
            data = reply or b""
            first, sep, rest = data.partition(b"\r\n")
            if rule.line is not None:
                first = rule.line.encode("latin-1")
            pad = max(0, rule.size - len(first) - 2)
            await self.write(first + b"X" * pad + b"\r\n" + (rest if sep else b""), note=note)
        elif a == "no_crlf":
            data = reply or b""
            await self.write(data[:-2] if data.endswith(b"\r\n") else data, chunk, note=note)
        elif a == "no_terminator":
            await self.write(self.server.strip_terminator(reply or b""), chunk, note=note)
        elif a == "stall":
            await self.stall(rule.ms)
            raise Closed("stalled")
        elif a in ("close", "reset", "refuse"):
            part = (reply or b"")[:rule.size] if a != "refuse" else b""
            if part:
                await self.write(part, note=note)
                # the promised octets must be on the wire (and, for a local peer, read: an RST
                # makes its kernel drop what it holds unread) before the FIN or RST follows
                if not await wait_out(self.sock, self.writer.transport, self._peer_queue(), self.octets_out):
                    self.event(f"{a}: the {len(part)} octets before it not seen delivered in time")
            await self.abort(reset=(a == "reset"))
            raise Closed(a)
