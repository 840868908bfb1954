"""The bench's side of the agent protocol, over any pyserial port.

One request in flight at a time (protocol v1). Every line both ways goes to the
UART log. A device that stops answering raises ``AgentTimeout``; a console that
disappears (QEMU crashed, USB unplugged) raises ``AgentLost``; both say which
request was pending, so a hung board never hangs the bench.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import serial

from bench.agent.codec import (
    LINE_MAX,
    DataLine,
    Noise,
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


class AgentClient:
    def __init__(self, port: serial.SerialBase, log: UartLog | None = None) -> None:
        self.port = port
        self.port.timeout = 0.05
        self.log = log or UartLog()
        self._buf = bytearray()
        self._lost: Exception | None = None
        self._tags = (f"{n:x}" for n in itertools.count(1))
        self.banners: list[Banner] = []
        self.faults: list[Unsolicited] = []

    # -- reading ---------------------------------------------------------
    def _read_line(self, deadline: float) -> bytes | None:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                self.log.add(UartRecord(time.time(), "dev", line))
                return line
            if self._lost is not None:  # lines that arrived before the loss were served above
                raise AgentLost(f"console lost: {self._lost}") from self._lost
            if time.monotonic() >= deadline:
                return None
            chunk = b""
            try:
                chunk = self.port.read(1)
                while chunk and self.port.in_waiting:
                    chunk += self.port.read(self.port.in_waiting)
            except (serial.SerialException, OSError) as exc:
                self._lost = exc
            self._buf += chunk
            if len(self._buf) > 8 * LINE_MAX and b"\n" not in self._buf:  # runaway noise
                self.log.add(UartRecord(time.time(), "dev", bytes(self._buf)))
                self._buf.clear()

    def _note_unsolicited(self, msg: Unsolicited) -> None:
        if msg.kind == "boot":
            self.banners.append(Banner({k: v.decode("utf-8", "replace") for k, v in msg.fields.items()}, time.time()))
        elif msg.kind == "fault":
            self.faults.append(msg)

    def wait_banner(self, timeout: float = 10.0) -> Banner:
        """Wait for the next ``* boot`` line (after power-on or reset)."""
        seen = len(self.banners)
        deadline = time.monotonic() + timeout
        while len(self.banners) == seen:
            line = self._read_line(deadline)
            if line is None:
                raise AgentTimeout(f"no boot banner within {timeout:.1f} s")
            msg = parse_line(line)
            if isinstance(msg, Unsolicited):
                self._note_unsolicited(msg)
        banner = self.banners[-1]
        if banner.fields.get("proto") != SUPPORTED_PROTO:
            raise ProtocolViolation(f"device speaks agent protocol {banner.fields.get('proto')!r}, bench speaks 1")
        return banner

    def drain(self, quiet: float = 0.05) -> None:
        """Consume what the device already sent (late replies, logs)."""
        while self._read_line(time.monotonic() + quiet) is not None:
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
        faults_before = len(self.faults)
        while True:
            raw = self._read_line(deadline)
            if raw is None:
                raise AgentTimeout(f"{verb} (tag {tag}): no reply within {timeout:.1f} s")
            msg = parse_line(raw)
            if isinstance(msg, Unsolicited):
                self._note_unsolicited(msg)
                if len(self.faults) > faults_before or msg.kind == "boot":
                    raise DeviceFault(f"{verb}: device reported '* {msg.kind} {msg.text}' instead of a reply")
            elif isinstance(msg, DataLine) and msg.tag == tag:
                data += msg.payload
            elif isinstance(msg, Reply) and msg.tag == tag:
                reply = Reply(msg.tag, msg.ok, msg.fields, bytes(data))
                if check and not reply.ok:
                    raise AgentError(verb, reply)
                return reply
            # replies to other (timed-out) tags and noise are logged and dropped
            elif isinstance(msg, Noise):
                continue
