"""The acceptance catalogue (criterion IDs of REQUIREMENTS.md) for the report.

Read from REQUIREMENTS.md when it can be found (``BENCH_REQUIREMENTS``, the
project's ``docs/``, or the shared docs next to the project); otherwise the
built-in list of IDs below, with short titles, stands in.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.config import project_root

_ID = re.compile(r"^[A-Z]+(?:-[A-Z]+)+-\d+$")


@dataclass(frozen=True)
class Criterion:
    id: str
    section: str
    text: str


_BUILTIN: tuple[tuple[str, str, str], ...] = tuple(
    (cid, section, title)
    for section, rows in (
        ("POP3 client", (
            ("POP-CONN-1", "connects to the configured server and port, IPv4 and IPv6"),
            ("POP-AUTH-1", "USER then PASS, or APOP; nothing else before authentication"),
            ("POP-AUTH-2", "APOP digest = MD5(timestamp + password), lowercase hex"),
            ("POP-AUTH-3", "APOP rejected: falls back to USER/PASS"),
            ("POP-AUTH-4", "no greeting timestamp: no made-up APOP"),
            ("POP-AUTH-5", "credentials rejected: error reported, no transaction commands"),
            ("POP-TRANS-1", "STAT figures reported exactly"),
            ("POP-TRANS-2", "LIST n: size of item n, numbered from 1"),
            ("POP-TRANS-3", "RETR n: whole message byte for byte, dot-unstuffed"),
            ("POP-TRANS-4", "DELE, RSET, NOOP; QUIT then close"),
            ("POP-TRANS-5", "-ERR reported as an error; session usable or closed cleanly"),
            ("POP-WIRE-1", "one CRLF line per command, <= 255 octets, no pipelining"),
            ("POP-WIRE-2", "no client segment above the declared POP3 payload"),
        )),
        ("SMTP client", (
            ("SMTP-CONN-1", "one TCP connection per mail, closed after the session"),
            ("SMTP-EHLO-1", "EHLO <client_domain>; multi-line 250 parsed"),
            ("SMTP-EHLO-2", "EHLO refused: HELO fallback"),
            ("SMTP-AUTH-1", "AUTH PLAIN"),
            ("SMTP-AUTH-2", "AUTH LOGIN"),
            ("SMTP-AUTH-3", "AUTH refused: error, no MAIL, closed"),
            ("SMTP-AUTH-4", "no AUTH advertised: PLAIN or skip; never CRAM-MD5"),
            ("SMTP-MAIL-1", "MAIL, one RCPT, DATA, message, QUIT, close"),
            ("SMTP-MAIL-2", "stored message carries subject, From, To and body byte for byte"),
            ("SMTP-MAIL-3", "large body split; no segment above MSS or declared payload"),
            ("SMTP-ERR-1", "4xx/5xx or drop: non-zero status naming the stage; next send works"),
            ("SMTP-WIRE-1", "line lengths, CRLF, no command before the previous reply"),
        )),
        ("Both clients, and the device", (
            ("NET-WIRE-1", "SYN MSS, segment sizes and IP header lengths"),
            ("NET-WIRE-2", "closed by FIN, no RST, no retransmission storms"),
            ("DEV-ROB-1", "malformed server input: clear error, device keeps answering"),
            ("DEV-ROB-2", "no memory leak over a long run"),
        )),
    )
    for cid, title in rows
)


def find_requirements() -> Path | None:
    env = os.environ.get("BENCH_REQUIREMENTS")
    root = project_root()
    for p in ([Path(env)] if env else []) + [root / "docs" / "REQUIREMENTS.md",
                                             root.parent / "shared" / "docs" / "REQUIREMENTS.md"]:
        if p.is_file():
            return p
    return None


def parse_requirements(text: str) -> list[Criterion]:
    """Every ``| ID | criterion |`` table row, with the ``##`` section it sits under."""
    out: list[Criterion] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and _ID.match(cells[0]):
            out.append(Criterion(cells[0], section, "|".join(cells[1:]).strip()))
    return out


def load_criteria(path: Path | None = None) -> tuple[list[Criterion], Path | None]:
    """The catalogue and the file it came from (None: the built-in list)."""
    path = path or find_requirements()
    if path is not None:
        found = parse_requirements(path.read_text(encoding="utf-8"))
        if found:
            return found, path
    return [Criterion(*row) for row in _BUILTIN], None
