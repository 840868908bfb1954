"""The shared core of the emulators: dual-stack listening, a background event
loop, per-session recording and fault application.

An emulator listens on 127.0.0.1 and ::1 on one port (QEMU user networking maps
the guest's 10.0.2.2:P and fec0::2:P there) or on the addresses given; never on
all interfaces unless asked. It runs its own asyncio loop in a thread, so
synchronous test code can use it as a context manager.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from bench.servers.faults import PSEUDO_EVENTS, REPLACING, FaultCounter, FaultRule, PlanLike, as_plan
from bench.servers.pacing import PeerQueue, set_nodelay, wait_out
from bench.servers.transcript import FaultHit, Session, Transcript, TranscriptLine

DEFAULT_BIND: tuple[str, ...] = ("127.0.0.1", "::1")
LINE_LIMIT = 1 << 20  # the longest input line buffered before the session is dropped
DEFAULT_REPLY_TIMEOUT_MS = 10_000  # the agent protocol's reply_ms when a device declares none
STALL_MARGIN_MS = 1_000  # a stall "past the timeout" outlasts the reply timeout by this much


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
            self.record("c>s", shown, f"redacted, {len(line)} octets")
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
        limit = ms or self.server.reply_timeout_ms + STALL_MARGIN_MS
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
        chosen = self.server.counter.pick(event, self.session.id, self.counts, arg)
        if chosen is None:
            return None
        rule = chosen.rule
        desc = rule.describe()
        command = b"" if event in ("connect", "greeting") else self.client_line
        self.hit = FaultHit(time.time(), self.session.id, chosen.index, desc, rule.action,
                            rule.event if rule.event != "*" else event, command, chosen.nth, rule.scope,
                            offset=self.octets_out, size=rule.size)
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
            await self.abort(reset=(a == "reset"))
            raise Closed(a)


class Emulator:
    """Base of :class:`Pop3Emulator` and :class:`SmtpEmulator`.

    ``bind``: an address or addresses (default 127.0.0.1 and ::1); ``port`` 0
    picks a free port, the same on every address. ``faults``: a FaultPlan or a
    rule list. ``on_session_end`` is called (in the loop thread) with each ended
    Session. ``quit_wait`` is how long the server waits, after its QUIT reply,
    for the client to close first before closing itself. ``reply_timeout_ms`` is
    the client's reply timeout (the device's declared ``reply_ms``, or the
    per-request timeout it honours): a ``stall`` outlasts it.
    """

    protocol: ClassVar[str] = ""
    malformed_line: ClassVar[str] = "??"

    def __init__(self, *, bind: str | Sequence[str] | None = None, port: int = 0,
                 faults: PlanLike = None, on_session_end: Callable[[Session], None] | None = None,
                 quit_wait: float = 2.0, reply_timeout_ms: int = DEFAULT_REPLY_TIMEOUT_MS) -> None:
        self.bind: tuple[str, ...] = (bind,) if isinstance(bind, str) else tuple(bind or DEFAULT_BIND)
        self.requested_port = port
        self.plan = as_plan(faults, self.protocol)
        self.counter = FaultCounter(self.plan)
        self.on_session_end = on_session_end
        self.quit_wait = quit_wait
        self.reply_timeout_ms = reply_timeout_ms
        self.transcript = Transcript(server=self.protocol, plan=[r.describe() for r in self.plan.rules])
        self.port = 0
        self.addresses: list[tuple[str, int]] = []
        self._cond = threading.Condition()
        self._ended = 0
        self._next_id = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- protocol hooks ------------------------------------------------------
    async def serve_session(self, conn: Conn) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def redact_line(self, line: bytes) -> bytes | None:
        """The transcript form of a client line holding a secret, or None to keep it."""
        return None

    def strip_terminator(self, reply: bytes) -> bytes:
        return reply

    # -- results -------------------------------------------------------------
    @property
    def sessions(self) -> list[Session]:
        return list(self.transcript.sessions)

    def wait_sessions(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` sessions have ended; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._ended >= n, timeout)

    @property
    def ended_sessions(self) -> int:
        return self._ended

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"{self.protocol}-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    async def _shutdown(self) -> None:
        for s in self._servers:
            s.close()
        for s in self._servers:
            with contextlib.suppress(Exception):
                await s.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _listen(self) -> None:
        for attempt in range(20):
            try:
                socks = self._bind_all(self.requested_port)
                break
            except OSError as e:
                if self.requested_port or e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
        self.port = socks[0].getsockname()[1]
        for s in socks:
            srv = await asyncio.start_server(self._accept, sock=s, limit=LINE_LIMIT)
            self._servers.append(srv)
            self.addresses.append((s.getsockname()[0], self.port))

    def _bind_all(self, port: int) -> list[socket.socket]:
        socks: list[socket.socket] = []
        try:
            for addr in self.bind:
                family = socket.AF_INET6 if ":" in addr else socket.AF_INET
                s = socket.socket(family, socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
                s.listen(64)
                s.setblocking(False)
                port = s.getsockname()[1]
        except OSError:
            for s in socks:
                s.close()
            raise
        return socks

    # -- per connection --------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        peer = writer.get_extra_info("peername")
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
        session = Session(id=self._next_id, protocol=self.protocol,  # type: ignore[arg-type]
                          peer=f"{host}:{peer[1]}", started=time.time())
        self._next_id += 1
        self.transcript.sessions.append(session)
        conn = Conn(self, reader, writer, session)
        conn.event(f"connect from {session.peer} to port {self.port}")
        try:
            rule = conn.pick("connect")
            if rule is not None:
                await conn.apply(rule, None)
            await self.serve_session(conn)
        except Closed:
            pass
        except asyncio.CancelledError:
            conn.event("server stopped")
            session.closed_by = session.closed_by or "server"
            with contextlib.suppress(Exception):
                writer.transport.abort()
        except Exception as e:  # noqa: BLE001 - a bug must not kill the server
            conn.event(f"server error: {type(e).__name__}: {e}")
            await conn.abort(reset=False)
        finally:
            if not conn.closed:
                session.closed_by = session.closed_by or "client"
                writer.close()
            if conn._peer is not None:
                conn._peer.close()
            session.ended = time.time()
            conn.event(f"closed by {session.closed_by}")
            self._tasks.discard(task)  # type: ignore[arg-type]
            self._session_done(session)

    async def finish_quit(self, conn: Conn) -> None:
        """After the QUIT reply: let the client close first (up to quit_wait), then close."""
        try:
            data = await asyncio.wait_for(conn.reader.read(65536), self.quit_wait)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            data = None
        if data == b"":
            conn.session.closed_by = "client"
            conn.closed = True
            conn.writer.close()
            return
        if data:
            conn.record("c>s", data, "after QUIT")
        await conn.abort(reset=False)

    def _session_done(self, session: Session) -> None:
        if self.on_session_end is not None:
            try:
                self.on_session_end(session)
            except Exception:  # noqa: BLE001
                pass
        with self._cond:
            self._ended += 1
            self._cond.notify_all()
