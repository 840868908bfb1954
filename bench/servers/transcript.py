"""What a server emulator records of each session: the evidence checks read.

Times are ``time.time()`` floats so transcripts, UART logs and packets share
one axis. Passwords never enter a transcript in clear: emulators record
``redact(...)`` forms.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

Direction = Literal["c>s", "s>c", "event"]


@dataclass(frozen=True)
class TranscriptLine:
    t: float
    session: int
    direction: Direction
    data: bytes  # raw bytes as they crossed (one write/read chunk or one line)
    note: str = ""  # e.g. the fault applied, "auth ok"

    def text(self) -> str:
        return self.data.decode("latin-1")


@dataclass
class StoredMessage:
    """A mail the SMTP emulator accepted, exactly as it arrived (after dot-unstuffing)."""

    session: int
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    raw_wire: bytes  # DATA section as received, dot-stuffed, terminator included


@dataclass
class FaultHit:
    """One firing of a fault rule: which rule, on which command, when, and what it wrote.

    ``offset`` and ``octets`` place the faulted reply in the server's byte stream
    of the connection (octets written before it, octets it wrote), so the capture
    can show what the fault put on the wire.
    """

    t: float
    session: int
    rule: int  # 0-based index in the server's fault plan
    description: str  # FaultRule.describe()
    action: str
    event: str  # the verb (upper case) or pseudo-event that fired it
    command: bytes  # the command line as the transcript holds it (redacted), b"" for pseudo-events
    nth: int  # the rule's nth matching event in its scope
    scope: str
    offset: int = 0
    octets: int = 0
    size: int = 0  # the rule's size (split chunk, overlong length, octets before close)
    step: int = 0  # the workload step running when it fired (0: none known)

    def describe(self) -> str:
        on = repr(self.command.decode("latin-1").rstrip("\r\n")) if self.command else self.event
        during = f", step {self.step}" if self.step else ""
        return (f"rule {self.rule + 1} ({self.description}) fired on {on}, its #{self.nth} in the "
                f"{self.scope}, session {self.session}{during}")


@dataclass
class Session:
    id: int
    protocol: Literal["pop3", "smtp"]
    peer: str  # "ip:port"
    started: float
    ended: float | None = None
    auth_method: str | None = None  # "user", "apop", "plain", "login", None
    auth_user: str | None = None
    auth_ok: bool | None = None
    commands: list[str] = field(default_factory=list)  # command verbs in order, upper-case
    faults: list[str] = field(default_factory=list)  # descriptions of faults applied
    hits: list[FaultHit] = field(default_factory=list)  # every fault rule firing, in order
    lines: list[TranscriptLine] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)  # SMTP: stored
    retrieved: list[int] = field(default_factory=list)  # POP3: item numbers sent by RETR
    deleted: list[int] = field(default_factory=list)  # POP3: items deleted at UPDATE
    closed_by: Literal["client", "server", None] = None


@dataclass
class Transcript:
    """All sessions one emulator served during a run."""

    server: str
    sessions: list[Session] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)  # the fault plan's rules, described, in order
    source: str = "emulator"  # "wire": rebuilt from the capture of a real server (bench.capture.wire_transcript)

    @property
    def hits(self) -> list[FaultHit]:
        return [h for s in self.sessions for h in s.hits]

    def write(self, path: Path) -> None:
        """A human-readable transcript: one line per record, timestamped."""
        with path.open("w", encoding="utf-8") as f:
            if self.source != "emulator":
                f.write(f"# {self.server}: derived from the {self.source}, not recorded by an emulator\n")
            for i, rule in enumerate(self.plan):
                f.write(f"# fault rule {i + 1}: {rule}\n")
            for s in self.sessions:
                f.write(f"# session {s.id} {s.protocol} from {s.peer} auth={s.auth_method}:{s.auth_ok}\n")
                for ln in s.lines:
                    f.write(f"{ln.t:.6f} {s.id} {ln.direction} {ln.data!r}{' # ' + ln.note if ln.note else ''}\n")

    def write_json(self, path: Path) -> None:
        def enc(o: object) -> object:
            if isinstance(o, bytes):
                return o.decode("latin-1")
            raise TypeError(type(o))

        path.write_text(json.dumps([asdict(s) for s in self.sessions], default=enc, indent=1))

    def fired(self, rule: int) -> list[FaultHit]:
        return [h for h in self.hits if h.rule == rule]


def redact(secret: str) -> str:
    """How a password appears in transcripts and reports."""
    return "*" * 8 if secret else ""
