"""The device's mail API as the bench calls it: typed wrappers over agent verbs.

Mail operations return ``OpResult`` rather than raising on ``err``: a workload
often expects an error (a fault plan), and the error is evidence to judge.
Transport failures (timeout, lost console, device fault) still raise.
"""
from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.agent.client import AgentClient, Banner
from bench.agent.codec import SECRET_KEYS, Reply

BODY_CHUNK = 288  # bytes per smtp.body line: 384 base64 chars, well inside 512
REQUEST_MARGIN_S = 3.0  # beyond the device's own wait: the UART round trip, the client's 1 s grace
#: how far the device's clock may run behind the host's: an emulated board's SysTick loses
#: ticks on a loaded host (measured here, load 9.5 on 2 cores: 4,386 device ms in 5,002 host ms;
#: the reference firmware's 1.5 s timeout took 1.8 s, its 10 s more than 13 s). The bench's
#: waits and stalls stretch by this share; the timeout criteria allow it.
CLOCK_SLACK = 0.25

#: what ``responsive`` asks: any answer will do
PROBE_VERB = "sys.info"
#: verbs every device implements (docs/agent-protocol.md, "Required and optional verbs")
REQUIRED_VERBS = frozenset({
    "hello", "sys.info", "sys.reset", "net.info",
    "pop3.open", "pop3.stat", "pop3.list", "pop3.retr", "pop3.quit",
    "smtp.config", "smtp.body", "smtp.send",
})
#: verbs a device implements only when its ``caps=`` names them
OPTIONAL_VERBS = frozenset({"pop3.noop", "pop3.rset", "pop3.dele", "pop3.abort", "tcp.bulk", "net.config"})
#: the device honours a per-request ``timeout_ms=``
TIMEOUT_ARG = "timeout-arg"
_CAP_ALIASES = {"tcp-bulk": "tcp.bulk"}  # protocol 1's first spelling

#: which declared waits a verb's request may spend (one after another, each at most once
#: for the longest: the timeout applies to each wait for the server, not to the operation)
_WAITS: dict[str, tuple[str, ...]] = {
    "pop3.open": ("connect_ms", "reply_ms"),
    "smtp.send": ("connect_ms", "reply_ms", "msg_ms"),
    "tcp.bulk": ("connect_ms", "reply_ms"),
}


@dataclass(frozen=True)
class BodyPiece:
    """One ``smtp.body`` request's content: ``data`` bytes (at most ``BODY_CHUNK``), then
    ``fill`` octets of the fill pattern generated on the device."""

    data: bytes = b""
    fill: int = 0


@dataclass(frozen=True)
class DeviceLimits:
    """The network limits the firmware declares (banner / hello)."""

    mtu: int
    mss: int
    mss6: int
    pop3_payload: int
    smtp_payload: int
    tcp_wnd: int
    body_max: int

    @classmethod
    def from_fields(cls, f: dict[str, str]) -> DeviceLimits:
        return cls(**{k: int(f[k]) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class DeviceTimeouts:
    """The client timeouts the device really uses (banner / hello); protocol defaults when absent."""

    connect_ms: int = 10_000  # TCP connect to the server
    reply_ms: int = 10_000  # each wait for a server reply
    msg_ms: int = 30_000  # the SMTP reply after the message's terminating dot

    @classmethod
    def from_fields(cls, f: dict[str, str]) -> DeviceTimeouts:
        return cls(**{k: int(f[k]) for k in cls.__dataclass_fields__ if k in f})


def parse_caps(value: str) -> frozenset[str]:
    """``caps=``: features and optional verbs; old spellings read as the current ones."""
    return frozenset(_CAP_ALIASES.get(c, c) for c in value.split(",") if c)


@dataclass(frozen=True)
class DeviceInfo:
    fw: str
    board: str
    caps: frozenset[str]
    limits: DeviceLimits
    ip: str
    ip6: str
    timeouts: DeviceTimeouts = DeviceTimeouts()

    @classmethod
    def from_fields(cls, f: dict[str, str]) -> DeviceInfo:
        return cls(
            fw=f.get("fw", ""),
            board=f.get("board", ""),
            caps=parse_caps(f.get("caps", "")),
            limits=DeviceLimits.from_fields(f),
            ip=f.get("ip", ""),
            ip6=f.get("ip6", ""),
            timeouts=DeviceTimeouts.from_fields(f),
        )

    def has_verb(self, verb: str) -> bool:
        """Required verbs always; an optional one (or any other) only when ``caps=`` names it."""
        return verb in REQUIRED_VERBS or verb in self.caps

    @property
    def timeout_arg(self) -> bool:
        return TIMEOUT_ARG in self.caps

    def wait_ms(self, kind: str, requested: int | None = None) -> int:
        """How long the device waits at ``kind`` (``connect_ms``, ``reply_ms``, ``msg_ms``):
        the requested ``timeout_ms`` when it honours one, else its declared timeout."""
        if requested is not None and self.timeout_arg:
            return requested
        return int(getattr(self.timeouts, kind))

    def longest_wait_ms(self, requested: int | None = None) -> int:
        """The longest any one wait of the device's clients lasts (a session still open
        after a stalled server ends by then)."""
        return max(self.wait_ms(k, requested) for k in DeviceTimeouts.__dataclass_fields__)

    def request_deadline_s(self, verb: str, requested: int | None = None) -> float:
        """How long the bench waits for ``verb``'s final reply: the device's longest wait plus a margin."""
        waits = _WAITS.get(verb, ("reply_ms",))
        return max(self.wait_ms(k, requested) for k in waits) / 1000 * (1 + CLOCK_SLACK) + REQUEST_MARGIN_S


@dataclass(frozen=True)
class MemoryStatus:
    uptime_ms: int
    heap_free: int
    pool_free: int
    pool_total: int
    pcb_free: int
    pcb_total: int


@dataclass(frozen=True)
class OpResult:
    """One device operation: what was asked, what came back, when."""

    verb: str
    args: dict[str, str]
    ok: bool
    fields: dict[str, str]
    data: bytes
    t_start: float
    t_end: float
    error: str = ""  # transport-level failure (timeout, lost console), if any

    @property
    def code(self) -> str:
        return self.fields.get("code", "")

    @property
    def stage(self) -> str:
        return self.fields.get("stage", "")

    def int(self, key: str) -> int:
        return int(self.fields[key])

    def describe(self) -> str:
        status = "ok" if self.ok else f"err {self.error or ''}".strip()
        detail = " ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.verb} -> {status} {detail}".strip()


@dataclass
class Device:
    agent: AgentClient
    info: DeviceInfo | None = None
    history: list[OpResult] = field(default_factory=list)

    # -- identity and health ---------------------------------------------
    def hello(self) -> DeviceInfo:
        reply = self.agent.request("hello")
        self.info = DeviceInfo.from_fields({k: v.decode() for k, v in reply.fields.items()})
        return self.info

    def wait_boot(self, timeout: float = 10.0) -> Banner:
        return self.agent.wait_banner(timeout)

    def memory(self) -> MemoryStatus:
        r = self.agent.request("sys.info")
        return MemoryStatus(**{k: r.int(k) for k in MemoryStatus.__dataclass_fields__})

    def reset(self, timeout: float = 10.0) -> Banner:
        self.agent.send("sys.reset")
        return self.agent.wait_banner(timeout)

    def responsive(self, timeout: float = 2.0) -> bool:
        """True if the agent answers in time (after a fault, say). Asks ``sys.info``: every
        device has it, and its reply is a third of ``hello``'s (UART time on a real board)."""
        try:
            self.agent.drain()
            self.agent.request(PROBE_VERB, timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False

    # -- generic operation -------------------------------------------------
    def op(self, verb: str, timeout_ms: int | None = None, **args: bytes | str | int) -> OpResult:
        """Run one mail verb; an ``err`` reply is a result, not an exception.

        ``timeout_ms`` goes to the device only when it declares ``timeout-arg``; the
        bench waits as long as the device will (its declared timeouts otherwise)."""
        if self.info is None:  # not asked hello yet: the protocol's defaults
            send, wait = timeout_ms is not None, (timeout_ms or DeviceTimeouts.reply_ms) / 1000 + REQUEST_MARGIN_S
        else:
            send, wait = timeout_ms is not None and self.info.timeout_arg, self.info.request_deadline_s(verb, timeout_ms)
        if send:
            args["timeout_ms"] = timeout_ms  # type: ignore[assignment]
        shown = {k: ("********" if k in SECRET_KEYS else str(v)) for k, v in args.items() if k != "data"}
        t0 = time.time()
        reply: Reply = self.agent.request(verb, timeout=wait, check=False, **args)
        result = OpResult(
            verb=verb,
            args=shown,
            ok=reply.ok,
            fields={k: v.decode("utf-8", "replace") for k, v in reply.fields.items()},
            data=reply.data,
            t_start=t0,
            t_end=time.time(),
        )
        self.history.append(result)
        return result

    # -- SMTP ----------------------------------------------------------------
    def smtp_body(self, pieces: Iterable[BodyPiece]) -> OpResult:
        """Load the body buffer, one request a piece (the first also empties it: ``reset=1``);
        stops at the first error. The last result carries ``octets``."""
        result: OpResult | None = None
        for piece in pieces:
            args: dict[str, bytes | str | int] = {} if result is not None else {"reset": 1}
            if piece.data:
                args["data"] = base64.b64encode(piece.data)
            if piece.fill:
                args["fill"] = piece.fill
            result = self.op("smtp.body", **args)
            if not result.ok:
                break
        return result if result is not None else self.op("smtp.body", reset=1)
