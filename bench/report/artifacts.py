"""Artifact readers for the HTML report: UART logs, server transcripts, captures.

Each reader turns one file into plain records on the bench's time axis
(``time.time()`` floats). They never raise on a malformed line: what cannot be
parsed is counted, so the report can say so instead of hiding it.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

from bench.capture.tcpflow import Connection, fmt_endpoint, read_connections


@dataclass(frozen=True)
class UartLine:
    """One line of a ``uart.log``: ``<epoch> >> line`` (host to device) or ``<epoch> << line``."""

    t: float
    direction: Literal["host", "dev"]
    text: str
    lineno: int


@dataclass(frozen=True)
class TranscriptEntry:
    """One record of a ``*-transcript.txt``."""

    t: float
    server: str  # "smtp", "pop3": from the file name
    session: int
    direction: str  # "c>s", "s>c", "event"
    data: bytes
    note: str
    lineno: int


@dataclass(frozen=True)
class PacketRow:
    """One TCP segment of a capture, seen from the connection it belongs to."""

    index: int  # 1-based frame number
    t: float
    direction: Literal["c>s", "s>c"]
    flags: str
    payload_len: int
    retransmission: bool
    src: str
    dst: str
    connection: int  # position of the connection in the capture, from 0


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    """Records read from one file and how many lines could not be read."""

    path: Path
    records: list[T] = field(default_factory=list)
    skipped: int = 0
    error: str = ""


def _read_records(path: Path, parse: Callable[[str, int], T | None], comment: str | None = None) -> Parsed[T]:
    """Each non-blank line (1-based number) through ``parse``; a None from it counts as skipped."""
    out: Parsed[T] = Parsed(path)
    try:
        text = path.read_text(encoding="utf-8", errors="backslashreplace")
    except OSError as e:
        out.error = str(e)
        return out
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or (comment and raw.startswith(comment)):
            continue
        record = parse(raw, n)
        if record is None:
            out.skipped += 1
        else:
            out.records.append(record)
    return out


def _uart_line(raw: str, n: int) -> UartLine | None:
    parts = raw.split(" ", 2)
    if len(parts) < 2 or parts[1] not in (">>", "<<"):
        return None
    try:
        t = float(parts[0])
    except ValueError:
        return None
    return UartLine(t, "host" if parts[1] == ">>" else "dev", parts[2] if len(parts) > 2 else "", n)


def read_uart_log(path: Path) -> Parsed[UartLine]:
    return _read_records(path, _uart_line)


def _split_bytes_literal(s: str) -> tuple[str, str] | None:
    """``b'...' # note`` -> (``b'...'``, rest): finds the literal's closing quote, escapes honoured."""
    if len(s) < 3 or s[0] != "b" or s[1] not in "'\"":
        return None
    quote, i = s[1], 2
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return s[: i + 1], s[i + 1:]
        i += 1
    return None


def parse_transcript_line(raw: str) -> tuple[float, int, str, bytes, str] | None:
    """``<epoch> <session> <dir> <bytes repr>[ # note]`` -> its fields, or None."""
    parts = raw.split(" ", 3)
    if len(parts) < 4:
        return None
    try:
        t, session = float(parts[0]), int(parts[1])
    except ValueError:
        return None
    split = _split_bytes_literal(parts[3])
    if split is None:
        return None
    literal, rest = split
    try:
        data = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(data, bytes):
        return None
    rest = rest.strip()
    note = rest[1:].strip() if rest.startswith("#") else rest
    return t, session, parts[2], data, note


def read_transcript(path: Path) -> Parsed[TranscriptEntry]:
    server = path.name.split("-transcript", 1)[0]

    def entry(raw: str, n: int) -> TranscriptEntry | None:
        fields = parse_transcript_line(raw)
        if fields is None:
            return None
        t, session, direction, data, note = fields
        return TranscriptEntry(t, server, session, direction, data, note, n)

    return _read_records(path, entry, comment="#")


@dataclass
class Capture:
    """A capture's TCP connections and all their segments in frame order."""

    path: Path
    connections: list[Connection] = field(default_factory=list)
    packets: list[PacketRow] = field(default_factory=list)
    error: str = ""


def read_capture(path: Path) -> Capture:
    out = Capture(path)
    try:
        out.connections = read_connections(path)
    except Exception as e:  # a truncated or foreign file must not sink the report
        out.error = f"{type(e).__name__}: {e}"
        return out
    for ci, conn in enumerate(out.connections):
        for direction, half in (("c>s", conn.c2s), ("s>c", conn.s2c)):
            for s in half.segments:
                out.packets.append(PacketRow(s.index, s.time, direction, s.flags, s.payload_len,  # type: ignore[arg-type]
                                             s.retransmission, fmt_endpoint(s.src), fmt_endpoint(s.dst), ci))
    out.packets.sort(key=lambda p: p.index)
    return out
