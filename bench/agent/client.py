"""The bench's side of the agent protocol, over any pyserial port.

One request in flight at a time (protocol v1). Every line both ways goes to the
UART log. A device that stops answering raises ``AgentTimeout``; a console that
disappears (QEMU crashed, USB unplugged) raises ``AgentLost``; both say which
request was pending, so a hung board never hangs the bench.
"""
from __future__ import annotations

import itertools
import select
import time
from dataclasses import dataclass

import serial

from bench.agent.codec import (
    LINE_MAX,
    DataLine,
    ProtocolViolation,
    Reply,
    Unsolicited,
    format_request,
    parse_line,
    redact,
)
from bench.agent.uartlog import UartLog, UartRecord

SUPPORTED_PROTO = "1"


class AgentError(RuntimeError):
    """The device answered ``err``."""

    def __init__(self, verb: str, reply: Reply) -> None:
        self.verb = verb
        self.reply = reply
        detail = " ".join(f"{k}={v.decode('utf-8', 'replace')}" for k, v in reply.fields.items())
        super().__init__(f"{verb}: {detail}")

    @property
    def code(self) -> str:
        return self.reply.code


class AgentTimeout(TimeoutError):
    """No reply in time: the device is hung or the request is lost."""


class AgentLost(ConnectionError):
    """The console went away (emulator crashed, cable pulled)."""


class DeviceFault(RuntimeError):
    """The device reported ``* fault`` (hard fault, assert, watchdog)."""


@dataclass(frozen=True)
class Banner:
    fields: dict[str, str]
    t: float

    def int(self, key: str) -> int:
        return int(self.fields[key])


#: the longest line the bench keeps (the protocol's limit, LF included): the rest of a longer
#: line is dropped and the line is recorded as noise, cut
LINE_KEEP = LINE_MAX
READ_CHUNK = 65536
POLL_S = 0.05
FAULTS_KEPT = 100
#: this many ``* fault`` lines and still no banner: the board faults in a loop, it will not boot
BOOT_FAULTS_MAX = 20
CUT_NOTE = b" [line cut at %d bytes, noise]" % LINE_KEEP
#: unsolicited lines a reset or a fault prints whatever was in flight: the line before may be
#: half a line (a data line cut by ``sys.reset``), with no LF between them
RESTART_MARKS = (b"* boot ", b"* fault ")
GLUED_NOTE = b" [cut short by the next line, noise]"


class AgentClient:
    """Reads in chunks of whatever has arrived (linear in the bytes received), holds at most
    ``LINE_KEEP`` + one chunk of unparsed input, and returns from every call by its deadline,
    whatever the device sends."""

    def __init__(self, port: serial.SerialBase, log: UartLog | None = None) -> None:
        self.port = port
        self.log = log or UartLog()
        self._buf = bytearray()
        self._skipping = 0  # > 0: inside an over-long line, this many bytes dropped so far
        self._lost: Exception | None = None
        self._tags = (f"{n:x}" for n in itertools.count(1))
        self.banners: list[Banner] = []
        self.faults: list[Unsolicited] = []  # the first FAULTS_KEPT
        self.fault_count = 0
        self.last_line = b""
        try:
            self._fd: int | None = port.fileno()
            self.port.timeout = 0  # select() waits; read() takes what has arrived
        except (AttributeError, NotImplementedError, OSError, serial.SerialException):
            self._fd = None
            self.port.timeout = POLL_S

    # -- reading ---------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        """Wait (until ``deadline`` at the latest) for input and append all that has arrived."""
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            if self._fd is not None:
                ready, _, _ = select.select([self._fd], [], [], min(left, POLL_S))
                chunk = self.port.read(READ_CHUNK) if ready else b""
                if ready and not chunk:
                    raise serial.SerialException("console closed")
            else:
                chunk = self.port.read(1)
                if chunk:
                    chunk += self.port.read(min(self.port.in_waiting, READ_CHUNK))
        except (serial.SerialException, OSError, ValueError) as exc:
            self._lost = exc
            return
        self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        while self._skipping and chunk:  # inside an over-long line: drop up to its LF
            nl = chunk.find(b"\n")
            if nl < 0:
                self._skipping += len(chunk)
                return
            self._note_cut(self._skipping + nl)
            chunk = chunk[nl + 1:]
        self._buf += chunk
        start = self._buf.rfind(b"\n") + 1
        if len(self._buf) - start > LINE_KEEP:  # the unfinished line is already too long
            head = bytes(self._buf[start:start + LINE_KEEP])
            self._skipping = len(self._buf) - start - LINE_KEEP
            del self._buf[start:]
            self._cut(head)

    def _cut(self, head: bytes) -> None:
        self.log.add(UartRecord(time.time(), "dev", head + CUT_NOTE))
        self.last_line = head

    def _note_cut(self, dropped: int) -> None:
        self._skipping = 0
        self.log.add(UartRecord(time.time(), "dev", b"[%d more bytes of that line dropped]" % dropped))

    def _read_line(self, deadline: float) -> bytes | None:
        """The next complete line (None at ``deadline``); lines already received come first.
        A line longer than ``LINE_KEEP`` is logged cut, as noise, and not returned."""
        while True:
            nl = self._buf.find(b"\n")
            if nl > LINE_KEEP:
                head = bytes(self._buf[:LINE_KEEP])
                del self._buf[: nl + 1]
                self._cut(head)
                self._note_cut(nl - LINE_KEEP)
                continue
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                line = self._unglue(line)
                self.log.add(UartRecord(time.time(), "dev", line))
                self.last_line = line
                return line
            if self._lost is not None:  # lines that arrived before the loss were served above
                raise AgentLost(f"console lost: {self._lost}") from self._lost
            if time.monotonic() >= deadline:
                return None
            self._fill(deadline)

    def _unglue(self, line: bytes) -> bytes:
        """A ``* boot``/``* fault`` line that arrived glued to the end of a cut line: the
        cut part is logged as noise on its own (never parsed: half a reply could look
        whole), the unsolicited line is returned."""
        starts = [i for i in (line.find(m, 1) for m in RESTART_MARKS) if i > 0]
        if not starts:
            return line
        cut = min(starts)
        self.log.add(UartRecord(time.time(), "dev", line[:cut] + GLUED_NOTE))
        return line[cut:]

    def last_output(self) -> bytes:
        """What the device said last: the last line, or the unfinished one."""
        return bytes(self._buf[-LINE_KEEP:]) if self._buf else self.last_line

    def _note_unsolicited(self, msg: Unsolicited) -> None:
        if msg.kind == "boot":
            self.banners.append(Banner({k: v.decode("utf-8", "replace") for k, v in msg.fields.items()}, time.time()))
        elif msg.kind == "fault":
            self.fault_count += 1
            if len(self.faults) < FAULTS_KEPT:
                self.faults.append(msg)

    def wait_banner(self, timeout: float = 10.0) -> Banner:
        """Wait for the next ``* boot`` line (after power-on or reset)."""
        seen, faults_before = len(self.banners), self.fault_count
        deadline = time.monotonic() + timeout
        while len(self.banners) == seen:
            line = self._read_line(deadline)
            if line is None:
                raise AgentTimeout(f"no boot banner within {timeout:.1f} s")
            msg = parse_line(line)
            if isinstance(msg, Unsolicited):
                self._note_unsolicited(msg)
            if len(self.banners) == seen and self.fault_count - faults_before >= BOOT_FAULTS_MAX:
                raise DeviceFault(f"{self.fault_count - faults_before} fault lines and no boot banner")
            if len(self.banners) == seen and time.monotonic() > deadline:
                raise AgentTimeout(f"no boot banner within {timeout:.1f} s")
        banner = self.banners[-1]
        if banner.fields.get("proto") != SUPPORTED_PROTO:
            raise ProtocolViolation(f"device speaks agent protocol {banner.fields.get('proto')!r}, bench speaks 1")
        return banner

    def drain(self, quiet: float = 0.05, limit: float = 2.0) -> None:
        """Consume what the device already sent (late replies, logs), for ``limit`` s at most."""
        end = time.monotonic() + limit
        while self._read_line(min(end, time.monotonic() + quiet)) is not None and time.monotonic() < end:
            pass

    # -- requests --------------------------------------------------------
    def send(self, verb: str, **args: bytes | str | int) -> str:
        """Send a request without waiting for its reply (``sys.reset`` has none); returns its tag."""
        tag = next(self._tags)
        line = format_request(tag, verb, args)
        self.log.add(UartRecord(time.time(), "host", redact(line[:-1])))
        try:
            self.port.write(line)
        except (serial.SerialException, OSError) as exc:
            raise AgentLost(f"console lost while sending {verb}: {exc}") from exc
        return tag

    def request(self, verb: str, timeout: float = 5.0, check: bool = True, **args: bytes | str | int) -> Reply:
        """Send one request and return its final reply (data lines gathered into ``reply.data``)."""
        tag = self.send(verb, **args)
        data = bytearray()
        deadline = time.monotonic() + timeout
        faults_before = self.fault_count
        while True:
            raw = self._read_line(deadline)
            if raw is None:
                raise AgentTimeout(f"{verb} (tag {tag}): no reply within {timeout:.1f} s")
            msg = parse_line(raw)
            if isinstance(msg, Unsolicited):
                self._note_unsolicited(msg)
                if self.fault_count > faults_before or msg.kind == "boot":
                    raise DeviceFault(f"{verb}: device reported '* {msg.kind} {msg.text}' instead of a reply")
            elif isinstance(msg, DataLine) and msg.tag == tag:
                data += msg.payload
            elif isinstance(msg, Reply) and msg.tag == tag:
                reply = Reply(msg.tag, msg.ok, msg.fields, bytes(data))
                if check and not reply.ok:
                    raise AgentError(verb, reply)
                return reply
            # replies and data lines of other (timed-out) tags, and noise, are logged and dropped;
            # a talkative device does not stretch the deadline
            if time.monotonic() > deadline:
                raise AgentTimeout(f"{verb} (tag {tag}): no reply within {timeout:.1f} s (only other lines)")
