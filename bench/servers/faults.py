"""Fault plans: deterministic misbehaviour shared by the POP3 and SMTP emulators.

A plan is an ordered list of :class:`FaultRule`. At every *event* the emulator
counts the event for each rule it matches (per session and per server) and
applies the first rule that fires. Events are command verbs in upper case (``"USER"``, ``"RETR"``,
``"EHLO"``, ``"AUTH"``...) and these pseudo-events:

``connect``     at accept, before the greeting
``greeting``    the greeting reply
``auth-reply``  SMTP: the reply to a SASL continuation line (after 334)
``message``     SMTP: the reply after the DATA terminator
``body``        SMTP: each line of the DATA body as it arrives (nth = line number)
``*``           (in a rule only) any event but ``connect``

When a rule fires: on its event (``match``), only when the command's argument is
``arg`` (if given: ``RETR 3`` is ``arg="3"``), and only on the ``nth`` event the
rule matches, counted in the session or over the whole server (``scope``). So a
plan names what happens ("the first RETR 3 on the server"), not which session
it happens in: one transient failed open cannot shift a fault onto another
session. ``session`` (a session number) still works but is fragile for that
reason; the suite does not use it. ``step`` keys a rule on the workload step
the runner is running (1-based; the emulator's ``step``): "the RETR of step 2".
``times`` caps how often a rule fires.
Every firing is a :class:`~bench.servers.transcript.FaultHit` in the transcript.

Actions (``FaultRule.action``):

``reply``         send ``line`` (CRLF appended) instead of the reply; the command
                  is not executed unless ``execute`` is set
``malformed``     like ``reply`` with a protocol-specific garbage line by default
``delay``         wait ``ms`` before the normal reply
``split``         send the normal reply in writes of ``size`` bytes, ``ms`` apart,
                  each write its own TCP segment
``overlong``      first reply line padded with ``X`` to ``size`` bytes (CRLF included)
``no_crlf``       the reply without its final CRLF
``no_terminator`` POP3: multi-line reply without ``.\\r\\n``; SMTP: last line sent
                  as a continuation (``250-``), so the reply never ends
``stall``         never answer again; keep reading until the peer goes, or until
                  ``ms`` pass (0: the device's reply timeout plus a margin, "a
                  stall past the timeout"), then close
``close``         send the first ``size`` bytes of the reply (0: none), then FIN
``reset``         same, then RST (SO_LINGER 0)
``refuse``        close at once (meant for ``connect``: no greeting)

Every rule may also carry ``ms`` (a delay before acting; split and stall give it
their own meaning) and ``size`` (write chunk for actions that write, except
where ``size`` has its own meaning). Nothing here is random: one plan, one byte
sequence (only when a stall ends depends on the clock).
A split leaves one TCP segment per chunk (:mod:`bench.servers.pacing`).
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
    nth: int | None = None  # only the Nth event this rule matches (1-based); None: every one
    scope: Literal["session", "server"] = "session"  # where nth is counted
    session: int | None = None  # only in this session number (1-based, per server); fragile
    protocol: Literal["pop3", "smtp"] | None = None  # None: both emulators
    line: str | None = None  # reply / malformed / overlong text (no CRLF needed)
    ms: int = 0  # delay (delay action, or before any action; split: gap between writes)
    size: int = 0  # split chunk / overlong length / bytes sent before close, reset
    execute: bool = False  # reply/malformed: still run the command (state changes)
    arg: str | None = None  # only when the command's argument is this (case-insensitive)
    times: int | None = None  # fire at most this many times (per scope)
    step: int | None = None  # only while the runner runs this workload step (1-based)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {ACTIONS}")
        if self.action == "split" and self.size <= 0:
            raise ValueError("split needs size > 0")
        if self.action == "overlong" and self.size <= 0:
            raise ValueError("overlong needs size > 0")
        if self.nth is not None and self.nth < 1:
            raise ValueError("nth counts from 1")
        if self.times is not None and self.times < 1:
            raise ValueError("times counts from 1")
        if self.scope not in ("session", "server"):
            raise ValueError(f"scope must be session or server, not {self.scope!r}")

    @property
    def event(self) -> str:
        return self.match if self.match in PSEUDO_EVENTS else self.match.upper()

    def describe(self) -> str:
        parts = [f"{self.event}" + (f" {self.arg}" if self.arg is not None else ""), self.action]
        if self.nth is not None:
            parts.append(f"nth={self.nth}/{self.scope}")
        if self.times is not None:
            parts.append(f"times={self.times}")
        if self.step is not None:
            parts.append(f"step={self.step}")
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


@dataclass(frozen=True)
class Pick:
    """A rule that fires: its place in the plan and the count that made it fire."""

    rule: FaultRule
    index: int  # 0-based position in the plan
    nth: int  # this was the rule's nth matching event in its scope


class FaultCounter:
    """Counts events per rule and picks the rule for each; one per server, sessions hold their own dicts.

    Only touched from the emulator's event-loop thread.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.server_counts: dict[object, int] = {}

    def pick(self, event: str, session_id: int, session_counts: dict[object, int],
             arg: str | None = None, step: int = 0) -> Pick | None:
        """Count ``event`` (with the command's ``arg``, during workload ``step``) for every rule
        it matches; the first that fires."""
        ev = event if event in PSEUDO_EVENTS else event.upper()
        chosen: Pick | None = None
        for i, r in enumerate(self.plan.rules):
            if r.event != ev and (r.event != "*" or ev == "connect"):
                continue
            if r.arg is not None and (arg or "").strip().lower() != r.arg.strip().lower():
                continue
            if r.session is not None and r.session != session_id:
                continue
            if r.step is not None and r.step != step:
                continue
            counts = session_counts if r.scope == "session" else self.server_counts
            seen = counts[i] = counts.get(i, 0) + 1
            fired = counts.get(("fired", i), 0)
            if chosen is not None or (r.nth is not None and seen != r.nth):
                continue
            if r.times is not None and fired >= r.times:
                continue
            counts[("fired", i)] = fired + 1
            chosen = Pick(r, i, seen)
        return chosen
