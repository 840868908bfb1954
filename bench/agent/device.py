"""The device's mail API as the bench calls it: typed wrappers over agent verbs.

Mail operations return ``OpResult`` rather than raising on ``err``: a workload
often expects an error (a fault plan), and the error is evidence to judge.
Transport failures (timeout, lost console, device fault) still raise.
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

from bench.agent.client import AgentClient, Banner
from bench.agent.codec import SECRET_KEYS, Reply

BODY_CHUNK = 288  # bytes per smtp.body line: 384 base64 chars, well inside 512
_DEFAULT_TIMEOUT_MS = 10_000


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
class DeviceInfo:
    fw: str
    board: str
    caps: frozenset[str]
    limits: DeviceLimits
    ip: str
    ip6: str

    @classmethod
    def from_fields(cls, f: dict[str, str]) -> DeviceInfo:
        return cls(
            fw=f.get("fw", ""),
            board=f.get("board", ""),
            caps=frozenset(filter(None, f.get("caps", "").split(","))),
            limits=DeviceLimits.from_fields(f),
            ip=f.get("ip", ""),
            ip6=f.get("ip6", ""),
        )


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
        """True if the agent answers ``hello`` in time (after a fault, say)."""
        try:
            self.agent.drain()
            self.agent.request("hello", timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False

    # -- generic operation -------------------------------------------------
    def op(self, verb: str, timeout_ms: int | None = None, **args: bytes | str | int) -> OpResult:
        """Run one mail verb; an ``err`` reply is a result, not an exception."""
        if timeout_ms is not None:
            args["timeout_ms"] = timeout_ms
        wait = (timeout_ms or _DEFAULT_TIMEOUT_MS) / 1000 + 3.0
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
    def smtp_body(self, body: bytes) -> OpResult:
        """Load the body buffer in protocol-sized chunks; the last result carries ``octets``."""
        result = self.op("smtp.body", reset=1)
        for i in range(0, len(body), BODY_CHUNK):
            result = self.op("smtp.body", data=base64.b64encode(body[i : i + BODY_CHUNK]))
            if not result.ok:
                break
        return result
