"""SMTP wire criteria from the capture: SMTP-WIRE-1 (lines, order), SMTP-CONN-1 (one mail a connection),
SMTP-MAIL-1 (one RCPT a mail) and SMTP-MAIL-3 (segment sizes)."""
from __future__ import annotations

import re
from pathlib import Path

from bench.capture.dialogue import Dialogue, Unit, pipelining_advertised, smtp_dialogue, smtp_spill, smtp_transactions
from bench.capture.tcpflow import Connection, line_around
from bench.checks.closing import cascaded, close_cascade, close_failures
from bench.checks.packets import packet_evidence, show
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, inconclusive, judge
from bench.checks.wire_framing import early_units, line_end_failures, line_evidence
from bench.checks.wire_limits import Connections, WireLimits, each, payload_verdict, peer_mss


_PIPELINABLE = frozenset({b"MAIL", b"RCPT", b"RSET"})
_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


def _text_failures(conn: Connection, unit: Unit, limits: WireLimits,
                   artifact: Path | None) -> tuple[list[Evidence], int, int]:
    """Line checks over one DATA section without cutting it into line objects.

    Returns (failures, longest line incl. its LF, number of lines).
    """
    c2s = conn.c2s
    text = c2s.stream[unit.start:unit.end]
    failures: list[Evidence] = []
    crlf = text.count(b"\r\n")
    if text.count(b"\n") != crlf:  # counts first: the regexes only run when something is wrong
        failures += [line_evidence(line_around(c2s, unit.start + m.start()), "bare LF line ending", artifact)
                     for m in _BARE_LF.finditer(text)]
    if text.count(b"\r") != crlf:
        failures += [line_evidence(line_around(c2s, unit.start + m.start()), "bare CR inside a line", artifact)
                     for m in _BARE_CR.finditer(text)]
    parts = text.split(b"\n")
    longest = max(map(len, parts)) + 1 if parts else 0
    if longest > limits.smtp_text_line_max:
        too_long = re.compile(rb"(?m)^[^\n]{%d,}" % limits.smtp_text_line_max)
        for m in too_long.finditer(text):
            line = line_around(c2s, unit.start + m.start())
            if len(line.text) > limits.smtp_text_line_max:
                failures.append(line_evidence(
                    line, f"text line of {len(line.text)} octets > {limits.smtp_text_line_max}", artifact))
    if not unit.complete:
        failures.append(packet_evidence([c2s.packet_at(unit.end - 1)],
                                        "DATA section without its terminating CRLF.CRLF", artifact))
    return failures, longest, len(parts) - 1


def _smtp_wire_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    d = smtp_dialogue(conn)
    spill = smtp_spill(d)  # body text read as commands after a '.' line ended DATA early
    spilled = range(*spill[:2]) if spill else range(0)
    cmds = [u.first for k, u in enumerate(d.units) if u.kind == "command" and k not in spilled]
    failures = line_end_failures(cmds, artifact)
    failures += [line_evidence(c, f"command line of {len(c.text)} octets > {limits.smtp_command_max}", artifact)
                 for c in cmds if len(c.text) > limits.smtp_command_max]
    longest_text = text_lines = 0
    for u in d.units:
        if u.kind == "data":
            more, longest, n = _text_failures(conn, u, limits, artifact)
            failures += more
            longest_text, text_lines = max(longest_text, longest), text_lines + n
    failures.sort(key=lambda e: e.packets)
    piped = pipelining_advertised(d)
    # RFC 2920: with PIPELINING the client may send on after MAIL/RCPT/RSET without waiting
    skip = (lambda k: k > 0 and d.units[k].kind == "command" and d.units[k - 1].verb in _PIPELINABLE) \
        if piped else (lambda k: False)
    early = [(k, ev) for k, ev in early_units(d, artifact, skip) if k not in spilled]
    failures += [ev for _, ev in early]
    measurements = (
        Measurement("longest command line", max((len(c.text) for c in cmds), default=0),
                    limits.smtp_command_max, "<=", "octets"),
        Measurement("longest text line", longest_text, limits.smtp_text_line_max, "<=", "octets"),
        Measurement("units sent before the previous reply", len(early), 0, "<="),
        Measurement("PIPELINING advertised", "yes" if piped else "no", None),
    )
    if spill is not None:
        consequences = _spill_evidence(conn, d, spill, artifact)
        if not failures:  # nothing of its own: the rest follows from the missing dot-stuffing
            first = d.units[spill[0]].first
            return Verdict("SMTP-WIRE-1", Outcome.INCONCLUSIVE,
                           f"{spill[1] - spill[0]} body line(s) after a '.' line reached the server as commands; "
                           "their order cannot be judged", tuple(consequences), measurements, conn.subject,
                           follows="SMTP-MAIL-2",
                           follows_reason=f"the server took the '.' line before packet {first.first_packet} as the "
                                          "end of DATA (a body line not dot-stuffed)")
        failures += consequences
    return judge("SMTP-WIRE-1", failures,
                 ok=f"{len(cmds)} commands and {text_lines} text lines, CRLF-terminated, within limits, "
                    "each after the previous reply",
                 bad="SMTP line framing or command ordering broken", measurements=measurements,
                 subject=conn.subject)


def _spill_evidence(conn: Connection, d: Dialogue, spill: tuple[int, int, Unit],
                    artifact: Path | None) -> list[Evidence]:
    first, end, data = spill
    lines = [d.units[k].first for k in range(first, end)]
    dot = line_around(conn.c2s, data.end - 1)
    return [line_evidence(dot, "the server took this line as the end of DATA", artifact),
            packet_evidence([p for ln in lines for p in ln.packets],
                            f"follows from SMTP-MAIL-2: {len(lines)} body line(s) read as commands, first "
                            f"{show(lines[0].text, 40)}", artifact)]


def smtp_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """SMTP lines: commands <= 512, text <= 1000, CRLF only; no command before the previous reply."""
    return each(_smtp_wire_1, conns, limits, artifact, limits.is_smtp)


def _smtp_conn_1(conn: Connection, limits: WireLimits, artifact: Path | None,
                 require_mail: bool = False) -> Verdict:
    d = smtp_dialogue(conn)
    mails = [u.first for u in d.units if u.verb == b"MAIL"]
    failures: list[Evidence] = []
    if len(mails) > 1:
        failures.append(packet_evidence([m.first_packet for m in mails],
                                        f"{len(mails)} MAIL commands on one connection", artifact))
    elif not mails and require_mail:
        failures.append(packet_evidence([conn.c2s.segments[0].index] if conn.c2s.segments else [],
                                        "no MAIL command on this connection", artifact))
    closed, closed_ok, close_ms = close_failures(conn, "smtp", artifact)
    own = bool(failures)
    failures += closed
    measurements = (Measurement("MAIL commands", len(mails), 1, "==" if require_mail else "<="), *close_ms)
    support = tuple(packet_evidence([m.first_packet], show(m.body), artifact) for m in mails) + tuple(closed_ok)
    verdict = judge("SMTP-CONN-1", failures,
                    ok=f"{len(mails)} mail on the connection to {conn.server[0]}:{conn.server[1]}, "
                       "closed by the client after the final reply",
                    bad="not one mail per connection, or the client did not close it after the final reply",
                    measurements=measurements, support=support, subject=conn.subject)
    return verdict if own else cascaded(verdict, close_cascade(conn, "smtp"))


def smtp_conn_1(conns: Connections, limits: WireLimits, artifact: Path | None = None, *,
                require_mail: bool = False) -> list[Verdict]:
    """At most one MAIL FROM per connection (exactly one with ``require_mail``), and the
    connection closed afterwards. A session that fails before MAIL (AUTH refused) sends
    none, and SMTP-AUTH-3 requires exactly that, so zero passes unless ``require_mail``."""
    return each(lambda c, lim, a: _smtp_conn_1(c, lim, a, require_mail), conns, limits, artifact,
                limits.is_smtp)


def _smtp_mail_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    txs = smtp_transactions(conn)
    if not txs:
        return inconclusive("SMTP-MAIL-1", "no MAIL transaction on this connection", conn.subject)
    failures = [packet_evidence([r.first_packet for r in tx.rcpts] or [tx.mail.first_packet],
                                f"{len(tx.rcpts)} RCPT commands for {show(tx.mail.body)}", artifact)
                for tx in txs if len(tx.rcpts) != 1]
    most = max(len(tx.rcpts) for tx in txs)
    closed, closed_ok, close_ms = close_failures(conn, "smtp", artifact)
    verdict = judge("SMTP-MAIL-1", failures + closed, ok="exactly one RCPT per mail; the client closed after the 221",
                    bad="not exactly one RCPT per mail" if failures else "the client did not close after the 221",
                    measurements=(Measurement("RCPT commands per mail", most if failures else 1, 1, "=="), *close_ms),
                    support=tuple(packet_evidence([r.first_packet for r in tx.rcpts], show(tx.rcpts[0].body),
                                                  artifact) for tx in txs if tx.rcpts) + tuple(closed_ok),
                    subject=conn.subject)
    return verdict if failures else cascaded(verdict, close_cascade(conn, "smtp"))


def smtp_mail_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """Wire part of SMTP-MAIL-1: exactly one RCPT TO per MAIL transaction."""
    return each(_smtp_mail_1, conns, limits, artifact, limits.is_smtp)


def _smtp_mail_3(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    peer, _ = peer_mss(conn, limits)
    own = conn.c2s.syn_mss
    negotiated = min(peer, own) if own is not None else peer
    limit = min(negotiated, limits.smtp_payload)
    why = f"min(negotiated MSS {negotiated}, smtp_payload {limits.smtp_payload})"
    gaps = [packet_evidence([g.packet], f"{g.length} octets missing before stream offset {g.offset}", artifact)
            for g in conn.c2s.gaps]
    return payload_verdict("SMTP-MAIL-3", conn, limits, limit, why, artifact, gaps)


def smtp_mail_3(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """No SMTP client segment above min(negotiated MSS, smtp_payload); client stream without gaps."""
    return each(_smtp_mail_3, conns, limits, artifact, limits.is_smtp)
