"""Maildrops for the POP3 emulator: a user's password and messages, items numbered from 1."""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

_BARE_LF = re.compile(rb"(?<!\r)\n")


def to_crlf(message: bytes) -> bytes:
    """Line ends as on the wire: every bare LF becomes CRLF."""
    return _BARE_LF.sub(b"\r\n", message)


@dataclass
class Maildrop:
    """One user's mailbox. ``messages`` are stored with CRLF line ends; sizes are
    octets as on the wire before dot-stuffing (RFC 1939 "exact size").
    ``uids`` default to ``<index>-<md5 prefix>`` fixed at creation, so UIDL is
    stable across sessions and runs. Deletions happen only at a QUIT (UPDATE)."""

    password: str
    messages: list[bytes] = field(default_factory=list)
    uids: list[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.messages = [to_crlf(m) for m in self.messages]
        if self.uids is None:
            self.uids = [f"{i + 1}-{hashlib.md5(m).hexdigest()[:12]}" for i, m in enumerate(self.messages)]
        if len(self.uids) != len(self.messages):
            raise ValueError("one uid per message")

    def size(self, index: int) -> int:
        return len(self.messages[index])

    def expunge(self, indexes: set[int]) -> None:
        """Remove the given 0-based items (the UPDATE state)."""
        assert self.uids is not None
        keep = [i for i in range(len(self.messages)) if i not in indexes]
        self.messages = [self.messages[i] for i in keep]
        self.uids = [self.uids[i] for i in keep]

    @classmethod
    def from_dir(cls, password: str, path: str | Path) -> Maildrop:
        """Every regular file in ``path``, sorted by name, is one message."""
        files = sorted(p for p in Path(path).iterdir() if p.is_file())
        return cls(password=password, messages=[p.read_bytes() for p in files])


def stuff(message: bytes) -> bytes:
    """A message as a POP3 multi-line body: dot-stuffed, CRLF-terminated, then ``.\\r\\n``."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"
