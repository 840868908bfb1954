"""Agent protocol v1 line codec (docs/agent-protocol.md): pure functions, no I/O."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

LINE_MAX = 512
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:/@+-")
_TAG = re.compile(rb"^[A-Za-z0-9]{1,8}$")
_KEY = re.compile(r"^[a-z0-9_]+$")
_VERB = re.compile(r"^[a-z0-9.]+$")


class ProtocolViolation(ValueError):
    """The device sent a line that breaks the agent protocol."""


def pct_encode(value: bytes | str | int) -> str:
    if isinstance(value, int):
        return str(value)
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def pct_decode(text: str) -> bytes:
    try:
        return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("ascii"))
    except UnicodeEncodeError as exc:
        raise ProtocolViolation(f"non-ASCII byte in value {text!r}") from exc


def format_request(tag: str, verb: str, args: dict[str, bytes | str | int]) -> bytes:
    if not _TAG.match(tag.encode()):
        raise ValueError(f"bad tag {tag!r}")
    if not _VERB.match(verb):
        raise ValueError(f"bad verb {verb!r}")
    parts = [tag, verb]
    for key, value in args.items():
        if not _KEY.match(key):
            raise ValueError(f"bad key {key!r}")
        parts.append(f"{key}={pct_encode(value)}")
    line = (" ".join(parts) + "\n").encode("ascii")
    if len(line) > LINE_MAX:
        raise ValueError(f"request is {len(line)} bytes; the protocol allows {LINE_MAX}")
    return line


SECRET_KEYS = frozenset({"pass"})
_SECRET = re.compile(rb"(?<= )(" + b"|".join(k.encode() for k in SECRET_KEYS) + rb")=[^ \n]*")


def redact(line: bytes) -> bytes:
    """A request line as logs may show it: secret values replaced by asterisks."""
    return _SECRET.sub(rb"\1=********", line)


def _fields(tokens: list[bytes]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for tok in tokens:
        key, sep, value = tok.partition(b"=")
        if not sep or not _KEY.match(key.decode("ascii", "replace")):
            raise ProtocolViolation(f"bad field {tok!r}")
        out[key.decode()] = pct_decode(value.decode("ascii", "replace"))
    return out


@dataclass(frozen=True)
class Reply:
    """A final reply: ``TAG ok ...`` or ``TAG err code=...``."""

    tag: str
    ok: bool
    fields: dict[str, bytes]
    data: bytes = b""  # payload of the data lines that preceded it

    def get(self, key: str, default: str = "") -> str:
        raw = self.fields.get(key)
        return default if raw is None else raw.decode("utf-8", "replace")

    def int(self, key: str) -> int:
        try:
            return int(self.get(key))
        except ValueError as exc:
            raise ProtocolViolation(f"reply field {key}={self.get(key)!r} is not an integer") from exc

    @property
    def code(self) -> str:
        return self.get("code")


@dataclass(frozen=True)
class DataLine:
    tag: str
    payload: bytes


@dataclass(frozen=True)
class Unsolicited:
    """``* boot ...``, ``* log ...``, ``* fault ...``, ``* err ...``."""

    kind: str
    fields: dict[str, bytes] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Noise:
    """A line that is no well-formed protocol line (a stray printf, a garbled reply): logged, ignored."""

    text: bytes
    why: str = ""


Line = Reply | DataLine | Unsolicited | Noise


def parse_line(raw: bytes) -> Line:
    """Classify one device line (without its LF). Lines that fit no form are noise, as the
    protocol says: "Link ok now", "Status err", a data line with bad base64 are ``Noise``
    (with ``why``), never an exception."""
    try:
        return _parse(raw)
    except ProtocolViolation as exc:
        return Noise(raw, str(exc))


def _parse(raw: bytes) -> Line:
    line = raw[:-1] if raw.endswith(b"\r") else raw
    if line.startswith(b"* "):
        kind, _, rest = line[2:].partition(b" ")
        name = kind.decode("ascii", "replace")
        if name == "log":
            return Unsolicited("log", {}, rest.decode("utf-8", "replace"))
        try:
            return Unsolicited(name, _fields(rest.split()), rest.decode("utf-8", "replace"))
        except ProtocolViolation:
            return Unsolicited(name, {}, rest.decode("utf-8", "replace"))
    tokens = line.split(b" ")
    if len(tokens) < 2 or not _TAG.match(tokens[0]):
        return Noise(raw)
    tag, kind = tokens[0].decode(), tokens[1]
    if kind == b"data" and len(tokens) == 3:
        try:
            return DataLine(tag, base64.b64decode(tokens[2], validate=True))
        except binascii.Error as exc:
            raise ProtocolViolation(f"bad base64 in data line {raw[:80]!r}") from exc
    if kind in (b"ok", b"err"):
        fields = _fields([t for t in tokens[2:] if t])
        if kind == b"err" and "code" not in fields:
            raise ProtocolViolation(f"err reply without code: {raw[:120]!r}")
        return Reply(tag, kind == b"ok", fields)
    return Noise(raw)
