"""Credentials out of everything a run writes: verdicts, JUnit, HTML, logs.

Two nets: the secrets the run's workloads hold, in clear and in the base64
forms SMTP AUTH sends, wherever they appear; and the protocol forms that carry
a secret (a ``PASS x`` command line, ``APOP user <32 hex digits>``, ``AUTH mech
<base64>``, the agent's ``pass=``), narrow enough to leave prose alone
("USER/PASS or APOP only", "AUTH chosen among those advertised"). A
secret becomes ``[redacted]``, whatever its length, so the length is not given
away. The pcap still holds what went on the wire (README).
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

MARK = "[redacted]"
_COMMAND = r"(?:^|(?<=\n)|(?<=: )|(?<=> )|(?<=[\"']))"  # where a command line starts (not prose: "USER/PASS")
_B64ISH = r"(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{6,}={0,2}"  # a SASL response, not an English word
_FORMS = re.compile(
    rf"{_COMMAND}(PASS[ \t]+)(?!\[redacted\])[^ \t\r\n\"'\\]+"               # POP3 PASS secret
    rf"|(APOP[ \t]+[^ \t\r\n\"']+[ \t]+)[0-9a-fA-F]{{32}}(?![0-9a-fA-F])"      # POP3 APOP user digest
    rf"|(AUTH[ \t]+[A-Za-z0-9_-]+[ \t]+){_B64ISH}"                             # SMTP AUTH mech initial-response
    r"|(?<![A-Za-z0-9_])(pass=)(?!\[redacted\])[^ \t\r\n\"'\\]+",            # the agent's pass= argument
    re.M,
)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def secret_forms(users: Iterable[tuple[str, str]]) -> set[str]:
    """Each password in clear and as AUTH LOGIN / AUTH PLAIN would send it."""
    out: set[str] = set()
    for user, pw in users:
        if len(pw) < 3:  # too short to find without mangling ordinary text
            continue
        u, p = user.encode(), pw.encode()
        out |= {pw, _b64(p), _b64(b"\0" + u + b"\0" + p), _b64(u + b"\0" + u + b"\0" + p)}
    return out


def workload_secrets(workload: Any) -> set[str]:
    """The passwords a workload gives the device and the emulators, in every form they are sent."""
    pairs: list[tuple[str, str]] = []
    client = getattr(workload, "smtp_client", None)
    if client is not None:
        pairs.append((client.user, client.password))
    smtp = getattr(workload, "smtp_server", None)
    if smtp is not None:
        pairs += list(smtp.users.items())
    pop3 = getattr(workload, "pop3_server", None)
    if pop3 is not None:
        pairs += [(u, pw) for u, (pw, _msgs) in pop3.maildrops.items()]
    for step in getattr(workload, "steps", ()):
        if hasattr(step, "password") and hasattr(step, "user"):
            pairs.append((step.user, step.password))
    return secret_forms(pairs)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential replaced by ``[redacted]``."""
    if not text:
        return text
    out = _FORMS.sub(lambda m: next(g for g in m.groups() if g is not None) + MARK, text)
    for s in sorted(set(secrets), key=len, reverse=True):
        out = out.replace(s, MARK)
    return out
