"""Maildrops for the POP3 emulator: a user's password and messages, items numbered from 1."""
from __future__ import annotations

import hashlib
import mailbox
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

    @classmethod
    def load(cls, password: str, path: str | Path) -> Maildrop:
        """The messages at ``path``, whatever holds them (``mailbox`` from the standard library reads both
        formats): a Maildir (``cur/`` and ``new/``, in delivery order), an mbox file, or a plain directory
        with one message per file. A missing path raises ``FileNotFoundError``."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        return cls(password=password, messages=read_messages(path))


def mail_format(path: Path) -> str:
    """``maildir``, ``mbox`` or ``files``: how the messages at ``path`` are kept."""
    if path.is_file():
        return "mbox"
    return "maildir" if (path / "cur").is_dir() and (path / "new").is_dir() else "files"


def read_messages(path: Path) -> list[bytes]:
    kind = mail_format(path)
    if kind == "files":
        return [p.read_bytes() for p in sorted(p for p in path.iterdir() if p.is_file())]
    box: mailbox.Mailbox = mailbox.mbox(path, create=False) if kind == "mbox" \
        else mailbox.Maildir(path, factory=None, create=False)
    try:
        keys = list(box.keys())
        if kind == "maildir":  # delivery order: the time in the unique name, then the name
            keys.sort(key=lambda k: (box.get_message(k).get_date(), k))  # type: ignore[union-attr]
        return [box.get_bytes(k) for k in keys]
    finally:
        box.close()


def stuff(message: bytes) -> bytes:
    """A message as a POP3 multi-line body: dot-stuffed, CRLF-terminated, then ``.\\r\\n``."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"
