"""Fault plans: deterministic misbehaviour shared by the POP3 and SMTP emulators.

A plan is an ordered list of :class:`FaultRule`. At every *event* the emulator
counts the event (per session and per server) and applies the first rule that
matches. Events are command verbs in upper case (``"USER"``, ``"RETR"``,
``"EHLO"``, ``"AUTH"``...) and these pseudo-events:

``connect``     at accept, before the greeting
``greeting``    the greeting reply
``auth-reply``  SMTP: the reply to a SASL continuation line (after 334)
``message``     SMTP: the reply after the DATA terminator
``body``        SMTP: each line of the DATA body as it arrives (nth = line number)
``*``           (in a rule only) any event

Actions (``FaultRule.action``):

``reply``         send ``line`` (CRLF appended) instead of the reply; the command
                  is not executed unless ``execute`` is set
``malformed``     like ``reply`` with a protocol-specific garbage line by default
``delay``         wait ``ms`` before the normal reply
``split``         send the normal reply in writes of ``size`` bytes, ``ms`` apart
``overlong``      first reply line padded with ``X`` to ``size`` bytes (CRLF included)
``no_crlf``       the reply without its final CRLF
``no_terminator`` POP3: multi-line reply without ``.\\r\\n``; SMTP: last line sent
                  as a continuation (``250-``), so the reply never ends
``stall``         never answer again; keep reading until the peer goes
``close``         send the first ``size`` bytes of the reply (0: none), then FIN
``reset``         same, then RST (SO_LINGER 0)
``refuse``        close at once (meant for ``connect``: no greeting)

Every rule may also carry ``ms`` (a delay before acting) and ``size`` (write
chunk for actions that write, except where ``size`` has its own meaning).
Nothing here is random or clock-dependent: one plan, one byte sequence.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Action = Literal[
    "reply", "malformed", "delay", "split", "overlong", "no_crlf", "no_terminator",
    "stall", "close", "reset", "refuse",
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]
PSEUDO_EVENTS = ("connect", "greeting", "auth-reply", "message", "body", "*")

#: actions that replace the reply, so the command is not executed (unless ``execute``)
REPLACING = frozenset({"reply", "malformed", "stall", "refuse"})


@dataclass(frozen=True)
class FaultRule:
    """One rule: *when* (match, nth, scope, session, protocol) and *what* (action...)."""

    match: str  # command verb (any case) or a pseudo-event
    action: Action
    nth: int | None = None  # only the Nth occurrence (1-based); None: every one
    scope: Literal["session", "server"] = "session"  # where nth is counted
    session: int | None = None  # only in this session number (1-based, per server)
    protocol: Literal["pop3", "smtp"] | None = None  # None: both emulators
    line: str | None = None  # reply / malformed / overlong text (no CRLF needed)
    ms: int = 0  # delay (delay action, or before any action; split: gap between writes)
    size: int = 0  # split chunk / overlong length / bytes sent before close, reset
    execute: bool = False  # reply/malformed: still run the command (state changes)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {ACTIONS}")
        if self.action == "split" and self.size <= 0:
            raise ValueError("split needs size > 0")
        if self.action == "overlong" and self.size <= 0:
            raise ValueError("overlong needs size > 0")
        if self.nth is not None and self.nth < 1:
            raise ValueError("nth counts from 1")
        if self.scope not in ("session", "server"):
            raise ValueError(f"scope must be session or server, not {self.scope!r}")

    @property
    def event(self) -> str:
        return self.match if self.match in PSEUDO_EVENTS else self.match.upper()

    def describe(self) -> str:
        parts = [f"{self.event}", self.action]
        if self.nth is not None:
            parts.append(f"nth={self.nth}/{self.scope}")
        if self.session is not None:
            parts.append(f"session={self.session}")
        if self.ms:
            parts.append(f"ms={self.ms}")
        if self.size:
            parts.append(f"size={self.size}")
        if self.line is not None:
            parts.append(f"line={self.line!r}")
        return " ".join(parts)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys {sorted(unknown)}")
        return cls(**d)


@dataclass
class FaultPlan:
    """An ordered rule list; the first matching rule wins."""

    rules: list[FaultRule] = field(default_factory=list)

    def for_protocol(self, protocol: str) -> FaultPlan:
        return FaultPlan([r for r in self.rules if r.protocol in (None, protocol)])

    def to_json(self) -> str:
        return json.dumps({"rules": [asdict(r) for r in self.rules]}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        doc = json.loads(text)
        rules = doc["rules"] if isinstance(doc, dict) else doc
        return cls([FaultRule.from_dict(r) for r in rules])

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def __bool__(self) -> bool:
        return bool(self.rules)


PlanLike = FaultPlan | list[FaultRule] | None


def as_plan(plan: PlanLike, protocol: str) -> FaultPlan:
    if plan is None:
        return FaultPlan()
    if not isinstance(plan, FaultPlan):
        plan = FaultPlan(list(plan))
    return plan.for_protocol(protocol)


class FaultCounter:
    """Counts events and picks the rule for each; one per server, sessions hold their own dicts.

    Only touched from the emulator's event-loop thread.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.server_counts: dict[str, int] = {}

    def pick(self, event: str, session_id: int, session_counts: dict[str, int]) -> FaultRule | None:
        """Count ``event`` and return the first matching rule, or None."""
        ev = event if event in PSEUDO_EVENTS else event.upper()
        session_counts[ev] = session_counts.get(ev, 0) + 1
        self.server_counts[ev] = self.server_counts.get(ev, 0) + 1
        session_counts["*"] = session_counts.get("*", 0) + 1
        self.server_counts["*"] = self.server_counts.get("*", 0) + 1
        for r in self.plan.rules:
            rev = r.event
            if rev != ev and rev != "*":
                continue
            if r.session is not None and r.session != session_id:
                continue
            if r.nth is not None:
                counts = session_counts if r.scope == "session" else self.server_counts
                if counts.get(rev, 0) != r.nth:
                    continue
            return r
        return None
