"""The shared core of the emulators: dual-stack listening, a background event
loop, one :class:`~bench.servers.conn.Conn` per session (recording, fault
application, paced writes).

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
import threading
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from bench.servers.conn import LINE_LIMIT, Closed, Command, Conn
from bench.servers.faults import FaultCounter, PlanLike, as_plan
from bench.servers.transcript import Session, Transcript

__all__ = ["DEFAULT_BIND", "DEFAULT_REPLY_TIMEOUT_MS", "Closed", "Command", "Conn", "Emulator"]

DEFAULT_BIND: tuple[str, ...] = ("127.0.0.1", "::1")
_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


def host_has_ipv6() -> bool:
    """Whether this host (network namespace) can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True
DEFAULT_REPLY_TIMEOUT_MS = 10_000  # the agent protocol's reply_ms when a device declares none


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
        self.step = 0  # the workload step running now (set by the runner; rules may key on it)
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
        """One listening socket per address; an IPv6 address on a host without IPv6 is left
        out (the IPv4 ones still serve); any other failure names the address and port."""
        socks: list[socket.socket] = []
        try:
            for addr in self.bind:
                family = socket.AF_INET6 if ":" in addr else socket.AF_INET
                try:
                    s = socket.socket(family, socket.SOCK_STREAM)
                except OSError as e:
                    if family == socket.AF_INET6 and e.errno in _NO_IPV6 and len(self.bind) > 1:
                        continue
                    raise
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
                except OSError as e:
                    s.close()
                    if family == socket.AF_INET6 and e.errno in _NO_IPV6 and len(self.bind) > 1:
                        continue
                    raise OSError(e.errno, f"cannot listen on {addr} port {port}: {e.strerror}") from None
                socks.append(s)
                s.listen(64)
                s.setblocking(False)
                port = s.getsockname()[1]
            if not socks:
                raise OSError(errno.EADDRNOTAVAIL, f"none of {', '.join(self.bind)} can be bound")
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
