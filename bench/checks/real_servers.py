"""Verdicts on a run against a real server (the target's ``[external]`` section).

The transcript of a real server is rebuilt from the capture, so the checks read
the wire and the device's answers as they do with an emulator. One rule cannot
be shown against every real server: dovecot and aiosmtpd, like most servers,
close the connection themselves the moment their reply to QUIT is written
(RFC 1939 section 6, RFC 5321 section 4.1.1.10 allow it), so whether the client
would have closed first is never seen. A FAIL that rests only on "left for the
server to close", the server's FIN within ``PROMPT_CLOSE_S`` of its final reply,
becomes INCONCLUSIVE there, saying so; a server that waited and was still left
to close keeps the FAIL, and every other part of the verdict still decides. Without a capture there is no server side at all: a FAIL
is INCONCLUSIVE then. Fault hits are not judged at all: no fault plan runs
against a real server (bench.workload.external).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from bench.capture.wire_transcript import SOURCE
from bench.checks.closing import LEFT_FOR_SERVER
from bench.checks.context import CheckContext
from bench.checks.verdict import Outcome, Verdict

Check = Callable[[CheckContext], list[Verdict]]

#: a server FIN this soon after its final reply had arrived left the client no time to close first
PROMPT_CLOSE_S = 0.2
_AFTER = re.compile(r"came first, (\d+\.\d+) s after")
SERVER_CLOSED = ("the real server closed first, right after its final reply: whether the client closes "
                 "its side itself is not shown against this server")


NO_CAPTURE = "no capture of the run: a real server's transcript comes from the wire alone"


def against_real_server(ctx: CheckContext) -> bool:
    return any(t is not None and t.source == SOURCE for t in (ctx.run.smtp, ctx.run.pop3))


def _prompt_server_close(excerpt: str) -> bool:
    m = _AFTER.search(excerpt)
    return excerpt.startswith(LEFT_FOR_SERVER) and m is not None and float(m.group(1)) <= PROMPT_CLOSE_S


def _only_left_for_server(v: Verdict) -> bool:
    return v.outcome is Outcome.FAIL and bool(v.evidence) and all(_prompt_server_close(e.excerpt) for e in v.evidence)


def judged_on_real_servers(checks: dict[str, Check]) -> dict[str, Check]:
    """Every check, with the closing-order exception above for runs against a real server."""

    def wrap(check: Check) -> Check:
        def wrapped(ctx: CheckContext) -> list[Verdict]:
            verdicts = check(ctx)
            if not against_real_server(ctx):
                return verdicts
            if ctx.run.pcap is None or not ctx.run.pcap.exists():  # nothing to judge the server side by
                return [replace(v, outcome=Outcome.INCONCLUSIVE, summary=f"{NO_CAPTURE} ({v.summary})")
                        if v.outcome is Outcome.FAIL else v for v in verdicts]
            return [replace(v, outcome=Outcome.INCONCLUSIVE, summary=f"{SERVER_CLOSED} ({v.summary})")
                    if _only_left_for_server(v) else v for v in verdicts]

        return wrapped

    return {cid: wrap(c) for cid, c in checks.items()}
