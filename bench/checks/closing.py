"""Closing order from the capture: who sent the first FIN or RST, and whether the
client's close came after the final reply had fully arrived.

"Fully arrived" is read from sequence numbers: the acknowledgement the client's
FIN carries must cover the final reply's last octet. The final reply is the
reply to QUIT when the client sent QUIT (221; POP3 +OK), otherwise the last
reply the server sent (an error reply the client gave up after). A client that
sent QUIT and got no reply at all may close after its timeout. The rule judges
SMTP-CONN-1, SMTP-MAIL-1, SMTP-ERR-1 and POP-TRANS-4: the client itself closes,
with its FIN, never before the final reply and never left for the server. The
server may close first only when it drops the connection (mid-exchange, while
the client waits for a reply) or after announcing it (SMTP 421); the client
must still close its own side after a server FIN. The emulator's ``closed_by``
is not used: only the packets decide.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from bench.capture.dialogue import Dialogue, Reply, pop3_dialogue, smtp_dialogue, smtp_spill
from bench.capture.tcpflow import Close, Connection
from bench.checks.packets import packet_evidence, show
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, judge
from bench.checks.wire_limits import WireLimits

#: how a failure of the "never left for the server" part begins (bench.checks.real_servers reads it)
LEFT_FOR_SERVER = "left for the server to close"

#: replies after which the server may close first (RFC 5321 3.8: 421 "closing transmission channel")
ANNOUNCES_CLOSE = {"smtp": frozenset({b"421"}), "pop3": frozenset()}


@dataclass(frozen=True)
class Closing:
    """The closing facts of one connection."""

    first: Close | None  # first FIN or RST from either side
    client: Close | None  # the client's own first FIN or RST
    server: Close | None
    final: Reply | None  # the reply the client had to have received before closing
    quit_sent: bool  # the final reply, if any, is the reply to QUIT
    server_dropped: bool  # the server closed first while the client waited, or after announcing it

    @property
    def order(self) -> str:
        return "no close" if self.first is None else f"{self.first.side} {self.first.kind} first"


def _dialogue(conn: Connection, protocol: str) -> Dialogue:
    return smtp_dialogue(conn) if protocol == "smtp" else pop3_dialogue(conn)


def _before(d: Dialogue, packet: int) -> tuple[int, Reply | None]:
    """How many client units were sent before frame ``packet``, and the last reply complete before it."""
    sent = sum(1 for u in d.units if u.first.first_packet < packet)
    done = [r for r in d.replies if r.complete and r.last_packet < packet]
    return sent, (done[-1] if done else None)


def closing(conn: Connection, protocol: str) -> Closing:
    cached = conn.cache.get(f"closing-{protocol}")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    d = _dialogue(conn, protocol)
    quits = [k for k, u in enumerate(d.units) if u.kind == "command" and u.verb == b"QUIT"]
    final = d.reply_to(quits[-1]) if quits else (d.replies[-1] if d.replies else None)
    first, server = conn.first_close, conn.close_of("server")
    dropped = False
    if first is not None and first.side == "server":
        sent, last = _before(d, first.packet)
        waiting = sent >= len([r for r in d.replies if r.complete and r.last_packet < first.packet])
        announced = last is not None and last.code in ANNOUNCES_CLOSE[protocol]
        dropped = announced or waiting
    c = Closing(first, conn.close_of("client"), server, final, bool(quits), dropped)
    conn.cache[f"closing-{protocol}"] = c
    return c


def close_cascade(conn: Connection, protocol: str) -> str:
    """Why the closing order cannot be judged on its own here ("" when it can): after a body
    line '.' sent unstuffed ended DATA, the server's replies answer body lines, not commands."""
    if protocol != "smtp":
        return ""
    spill = smtp_spill(smtp_dialogue(conn))
    if spill is None:
        return ""
    return (f"the server took the '.' line before packet {conn.c2s.packet_at(spill[2].end - 1)} "
            "as the end of DATA: the replies after it answer body lines, so the client's QUIT met another reply")


def close_failures(conn: Connection, protocol: str, artifact: Path | None
                   ) -> tuple[list[Evidence], list[Evidence], tuple[Measurement, ...]]:
    """(failures, support, measurements) of the closing-order rule for one connection."""
    c = closing(conn, protocol)
    final_end = c.final.end if c.final is not None else 0
    what = (f"the reply to QUIT {show(c.final.first.body, 30)!r}" if c.quit_sent and c.final
            else f"the last reply {show(c.final.first.body, 30)!r}" if c.final else "the connection's start")
    acked = c.client.acked if c.client is not None else None
    client_first = c.first is not None and c.first.side == "client"
    measurements = (
        Measurement("first close", c.order, None),
        Measurement("server octets the client had received when it closed", acked,
                    final_end if client_first and c.final is not None else None, ">=", "octets"),
    )
    failures: list[Evidence] = []
    support: list[Evidence] = []
    last_frame = [max(s.index for s in conn.c2s.segments + conn.s2c.segments)] if conn.c2s.segments else []
    if c.first is None:
        failures.append(packet_evidence(last_frame, "the client never closed: no FIN or RST by the end of the "
                                        "capture", artifact))
        return failures, support, measurements
    if c.first.side == "server" and not c.server_dropped:
        after = (f", {conn.s2c.time_of(c.first.packet) - conn.s2c.time_of(c.final.last_packet):.3f} s after "
                 f"{what} had arrived (packet {c.final.last_packet})") if c.final is not None else ""
        failures.append(packet_evidence([c.first.packet], f"{LEFT_FOR_SERVER}: {c.first.describe()} "
                                        f"came first{after}", artifact))
    if c.client is None and c.first.side == "server" and c.first.kind == "RST":
        support.append(packet_evidence([c.first.packet], f"the server reset the connection ({c.first.describe()}): "
                                       "nothing left for the client to close", artifact))
        return failures, support, measurements
    if c.client is None:
        failures.append(packet_evidence([c.first.packet] if c.first.side == "server" else last_frame,
                                        f"the client never closed its side ({c.first.describe()})", artifact))
        return failures, support, measurements
    if c.client.kind == "RST" and not (c.server is not None and c.server.kind == "RST"
                                       and c.server.packet < c.client.packet):
        failures.append(packet_evidence([c.client.packet], f"the client reset the connection ({c.client.describe()}) "
                                        "instead of closing it with its own FIN", artifact))
    elif client_first and c.final is not None and not c.client.covers(final_end):
        failures.append(packet_evidence(
            [c.client.packet, c.final.last_packet],
            f"closed before {what} had fully arrived: {c.client.describe()} acknowledged {acked} server octets, "
            f"the reply ends at octet {final_end} (packet {c.final.last_packet})", artifact))
    if not failures:
        why = (f"after {what} had fully arrived (acknowledged {acked} >= {final_end} octets)"
               if c.final is not None and client_first else
               f"after the server dropped the connection ({c.first.describe()})" if c.first.side == "server" else
               "with no reply to wait for")
        if c.quit_sent and c.final is None:
            why = "after waiting for a reply to QUIT that never came"
        support.append(packet_evidence([c.client.packet], f"{c.client.describe()} {why}", artifact))
    return failures, support, measurements


def error_path(conn: Connection, protocol: str | None) -> str:
    """Why this connection left the normal path ("" if it did not): an error or malformed
    reply, a reply that never completed, a server that closed first, a client left waiting."""
    if protocol not in ("smtp", "pop3"):
        return ""
    d = _dialogue(conn, protocol)
    for r in d.replies:
        code = r.code
        bad = (not (len(code) == 3 and code.isdigit()) or code[:1] in (b"4", b"5")) if protocol == "smtp" \
            else code != b"+OK"
        if bad or not r.complete:
            return f"the server's reply {show(r.first.body, 30)!r}" + ("" if r.complete else " never completed")
    c = closing(conn, protocol)
    if c.first is not None and c.first.side == "server" and c.server_dropped:
        return f"the server closed first ({c.first.describe()})"
    if len(d.replies) <= len(d.units) and d.units:
        return f"no reply to {show(d.units[-1].first.body, 30)!r}"
    return ""


def _closing_check(criterion: str, protocol: str) -> Callable[..., list[Verdict]]:
    def check(conns: Connection | Iterable[Connection], limits: WireLimits,
              artifact: Path | None = None) -> list[Verdict]:
        conns = [conns] if isinstance(conns, Connection) else list(conns)
        applies = limits.is_smtp if protocol == "smtp" else limits.is_pop3
        out = []
        for conn in conns:
            if not (limits.is_device(conn) and applies(conn)):
                continue
            if protocol == "pop3" and not closing(conn, protocol).quit_sent:
                continue  # POP-TRANS-4 judges the close after QUIT; other POP3 closes are POP-TRANS-5's
            failures, support, ms = close_failures(conn, protocol, artifact)
            out.append(cascaded(judge(criterion, failures, ok="the client closed with its own FIN after the final reply",
                                      bad="the client did not close the connection itself after the final reply",
                                      measurements=ms, support=tuple(support), subject=conn.subject),
                                close_cascade(conn, protocol)))
        return out

    check.__name__ = f"closing_{criterion}"
    return check


#: the closing-order part of criteria judged also from other evidence (bound to runs by wirechecks)
CLOSING_CHECKS: dict[str, Callable[..., list[Verdict]]] = {
    "SMTP-ERR-1": _closing_check("SMTP-ERR-1", "smtp"),
    "POP-TRANS-4": _closing_check("POP-TRANS-4", "pop3"),
}


def cascaded(verdict: Verdict, reason: str, root: str = "SMTP-MAIL-2") -> Verdict:
    """A failed verdict whose only failures are the closing order's, on a connection where
    that order follows from ``root`` (``reason`` non-empty): INCONCLUSIVE, following from it."""
    if not reason or verdict.outcome is not Outcome.FAIL:
        return verdict
    return replace(verdict, outcome=Outcome.INCONCLUSIVE, follows=root, follows_reason=reason,
                   summary=f"closing order not judged on its own: {verdict.summary}")
