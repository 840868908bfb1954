"""Wire criteria judged from the capture: one Verdict per criterion per connection.

Criteria: NET-WIRE-1/2, POP-WIRE-1/2, SMTP-WIRE-1, SMTP-CONN-1, SMTP-MAIL-1
(the RCPT count) and SMTP-MAIL-3. Every limit comes from ``WireLimits``, built
by the caller from the target file and the firmware's banner. The device is the
client of every connection. Retransmitted segments never count twice: stream
checks read the reassembled stream, which holds each byte once.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capture.dialogue import (
    Dialogue,
    Unit,
    pipelining_advertised,
    pop3_dialogue,
    smtp_dialogue,
    smtp_spill,
    smtp_transactions,
)
from bench.capture.tcpflow import Connection, Segment, StreamLine, gc_paused, line_around
from bench.checks.artefacts import artefact_evidence, artefact_verdict, over_mtu
from bench.checks.closing import cascaded, close_cascade, close_failures, error_path
from bench.checks.packets import packet_evidence
from bench.checks.packets import show as _show
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, inconclusive, judge


@dataclass(frozen=True)
class WireLimits:
    """What the wire is held to: the device's declared figures plus protocol maxima."""

    mtu: int
    mss: int
    mss6: int
    pop3_payload: int
    smtp_payload: int
    pop3_ports: frozenset[int] = frozenset({110})
    smtp_ports: frozenset[int] = frozenset({25})
    #: client retransmissions tolerated per connection on a clean link
    max_retransmissions: int = 2
    pop3_command_max: int = 255  # RFC 2449: command line incl. CRLF
    smtp_command_max: int = 512  # RFC 5321 4.5.3.1.4, incl. CRLF
    smtp_text_line_max: int = 1000  # RFC 5321 4.5.3.1.6, incl. CRLF
    default_mss4: int = 536  # assumed when the peer's SYN carries no MSS (RFC 9293)
    default_mss6: int = 1220
    #: device addresses; empty = every connection in the capture is the device's
    device_ips: frozenset[str] = frozenset()
    #: the interface the capture was taken on, when known (named in the offload hint)
    capture_iface: str = ""

    @classmethod
    def from_device(cls, limits: Any, *, pop3_ports: Iterable[int], smtp_ports: Iterable[int],
                    device_ips: Iterable[str] = (), **overrides: Any) -> WireLimits:
        """From an object (or mapping) with mtu, mss, mss6, pop3_payload, smtp_payload."""
        get = limits.__getitem__ if isinstance(limits, Mapping) else lambda k: getattr(limits, k)
        return cls(*(int(get(k)) for k in ("mtu", "mss", "mss6", "pop3_payload", "smtp_payload")),
                   pop3_ports=frozenset(pop3_ports), smtp_ports=frozenset(smtp_ports),
                   device_ips=frozenset(ip for ip in device_ips if ip), **overrides)

    def is_pop3(self, conn: Connection) -> bool:
        return conn.server[1] in self.pop3_ports

    def is_smtp(self, conn: Connection) -> bool:
        return conn.server[1] in self.smtp_ports

    def is_device(self, conn: Connection) -> bool:
        return not self.device_ips or conn.client[0] in self.device_ips


Connections = Connection | Iterable[Connection]
Check = Callable[[Connection, WireLimits, Path | None], Verdict]


# ---------------------------------------------------------------- evidence helpers

def _line_evidence(line: StreamLine, why: str, artifact: Path | None) -> Evidence:
    return packet_evidence(line.packets, f"{why}: {_show(line.text)}", artifact)


def _peer_mss(conn: Connection, limits: WireLimits) -> tuple[int, str]:
    """MSS the server advertised (or the RFC default if its SYN had none)."""
    if conn.s2c.syn_mss is not None:
        return conn.s2c.syn_mss, "advertised by the server"
    default = limits.default_mss6 if conn.ip_version == 6 else limits.default_mss4
    return default, "default: the server's SYN carried no MSS"


def _client_data(conn: Connection) -> list[Segment]:
    return [s for s in conn.c2s.segments if s.payload_len]


def _largest(segs: list[Segment]) -> int:
    return max((s.payload_len for s in segs), default=0)


def _each(check: Check, conns: Connections, limits: WireLimits, artifact: Path | None,
          applies: Callable[[Connection], bool]) -> list[Verdict]:
    if isinstance(conns, Connection):
        conns = [conns]
    return [check(c, limits, artifact) for c in conns if limits.is_device(c) and applies(c)]


# ---------------------------------------------------------------- NET-WIRE-1

def _net_wire_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    v6 = conn.ip_version == 6
    syn_limit = limits.mtu - (60 if v6 else 40)
    hdr = 40 if v6 else 20
    failures: list[Evidence] = []
    syns = [s for s in conn.c2s.segments if s.flags == "S"]
    no_mss = [s.index for s in syns if s.mss is None]
    if no_mss:
        failures.append(packet_evidence(no_mss, "SYN carries no MSS option", artifact))
    big_syn = [s for s in syns if s.mss is not None and s.mss > syn_limit]
    if big_syn:  # a retransmitted SYN repeats the same fault: one evidence for all copies
        failures.append(packet_evidence(
            [s.index for s in big_syn],
            f"SYN MSS {big_syn[0].mss} > MTU {limits.mtu} - {60 if v6 else 40} = {syn_limit}", artifact))
    peer, why = _peer_mss(conn, limits)
    data = _client_data(conn)
    fake = over_mtu(conn, limits.mtu)  # never on the wire: an offload artefact, not an MSS violation
    big = [s for s in data if s.payload_len > peer and s not in fake]
    if big:
        failures.append(packet_evidence(
            [s.index for s in big],
            f"{len(big)} segment(s) above the peer's MSS {peer} ({why}); largest {_largest(big)}", artifact))
    bad_hdr = [s for s in conn.c2s.segments if s.ip_header_len != hdr]
    if bad_hdr:
        failures.append(packet_evidence(
            [s.index for s in bad_hdr],
            f"{len(bad_hdr)} packet(s) with an IPv{conn.ip_version} header of "
            f"{bad_hdr[0].ip_header_len} octets, not {hdr}", artifact))
    syn_mss = syns[0].mss if syns else None
    measurements = (
        Measurement("SYN MSS", syn_mss, syn_limit, "<=", "octets"),
        Measurement("largest client segment payload", _largest(data), peer, "<=", "octets"),
        Measurement("IP header length", max((s.ip_header_len for s in conn.c2s.segments), default=hdr),
                    hdr, "==", "octets"),
    )
    if fake and not failures:
        return artefact_verdict("NET-WIRE-1", conn, fake, limits.mtu, artifact, measurements, limits.capture_iface)
    if fake:
        failures.append(artefact_evidence(fake, limits.mtu, artifact, limits.capture_iface))
    if not failures and not syns:
        return Verdict("NET-WIRE-1", Outcome.INCONCLUSIVE,
                       "the device's SYN is not in the capture", (), measurements, conn.subject)
    support = (packet_evidence([syns[0].index], f"SYN MSS {syn_mss}", artifact),) if syns else ()
    return judge("NET-WIRE-1", failures,
                 ok=f"SYN MSS {syn_mss} <= {syn_limit}; segments <= MSS {peer}; {hdr}-octet IP headers",
                 bad="segment sizing or IP headers break the limits", measurements=measurements,
                 support=support, subject=conn.subject)


def net_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """SYN MSS <= MTU-40/-60; no client segment above the peer's MSS; plain 20/40-octet IP headers."""
    return _each(_net_wire_1, conns, limits, artifact, lambda c: True)


# ---------------------------------------------------------------- NET-WIRE-2

def _protocol(conn: Connection, limits: WireLimits) -> str | None:
    return "smtp" if limits.is_smtp(conn) else "pop3" if limits.is_pop3(conn) else None


def _net_wire_2(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    failures: list[Evidence] = []
    rsts = [s for s in conn.c2s.segments if "R" in s.flags]
    fin = conn.c2s.first_packet("F")
    off_path = error_path(conn, _protocol(conn, limits))  # the close there is SMTP-CONN-1's, POP-TRANS-4's
    if rsts and not off_path:
        failures.append(packet_evidence([s.index for s in rsts], "the device sent RST", artifact))
    if fin is None and not off_path:
        last = conn.c2s.segments[-1].index if conn.c2s.segments else None
        srst = conn.s2c.first_packet("R")
        why = ("reset by the server; the device sent no FIN" if srst is not None
               else "the device never sent FIN (connection left open)")
        cited = [p for p in (last, srst.index if srst else None) if p]
        failures.append(packet_evidence(cited, why, artifact))
    retrans = conn.c2s.retransmissions
    if len(retrans) > limits.max_retransmissions:
        failures.append(packet_evidence([s.index for s in retrans],
                                        f"{len(retrans)} retransmitted segments", artifact))
    measurements = (
        Measurement("device RST segments", len(rsts), 0, "<=", "segments"),
        Measurement("device retransmissions", len(retrans), limits.max_retransmissions, "<=", "segments"),
    )
    support = (packet_evidence([fin.index], f"device FIN (closed by {conn.closed_by})", artifact),) if fin else ()
    ok = f"closed by FIN, no device RST, {len(retrans)} retransmission(s)"
    if off_path:
        ok = (f"error path ({off_path}): the close is judged by the protocol's closing rule, not here; "
              f"{len(retrans)} retransmission(s)")
        support += tuple(packet_evidence([s.index], "device RST on the error path", artifact) for s in rsts[:1])
    return judge("NET-WIRE-2", failures,
                 ok=ok,
                 bad="connection not closed cleanly by FIN or retransmission storm",
                 measurements=measurements, support=support, subject=conn.subject)


def net_wire_2(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """Closed by FIN, no RST from the device, retransmissions within ``max_retransmissions``."""
    return _each(_net_wire_2, conns, limits, artifact, lambda c: True)


# ---------------------------------------------------------------- ordering (shared)

def _early_units(d: Dialogue, skip: Callable[[int], bool] = lambda k: False) -> list[tuple[int, Evidence]]:
    """Units sent before the reply they must wait for was complete."""
    out: list[tuple[int, Evidence]] = []
    for k, unit in enumerate(d.units):
        if skip(k):
            continue
        reply = d.reply_before(k)
        first = unit.first.first_packet
        what = "DATA section" if unit.kind == "data" else _show(unit.first.body, 40)
        if reply is None or not reply.complete:
            out.append((k, packet_evidence(
                [first] + ([reply.last_packet] if reply else []),
                f"{what} sent (packet {first}) with no complete reply before it"
                + (f" (reply {k} incomplete)" if reply else f" (only {len(d.replies)} replies)"), None)))
        elif first < reply.last_packet:
            out.append((k, packet_evidence(
                [first, reply.last_packet],
                f"{what} sent at packet {first}, before the reply completed at packet {reply.last_packet}"
                f" ({_show(reply.first.body, 30)})", None)))
    return out


def _with_artifact(ev: Evidence, artifact: Path | None) -> Evidence:
    return Evidence(ev.source, ev.locator, ev.excerpt, artifact, ev.packets)


def _line_end_failures(lns: Iterable[StreamLine], artifact: Path | None) -> list[Evidence]:
    out = []
    for line in lns:
        if not line.terminated:
            out.append(_line_evidence(line, "line without CRLF at the end of the stream", artifact))
        elif not line.crlf:
            out.append(_line_evidence(line, "bare LF line ending", artifact))
        elif b"\r" in line.text[:-2]:
            out.append(_line_evidence(line, "bare CR inside a line", artifact))
    return out


# ---------------------------------------------------------------- POP-WIRE-1 / 2

def _pop_wire_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    d = pop3_dialogue(conn)
    cmds = [u.first for u in d.units]
    failures = _line_end_failures(cmds, artifact)
    long = [c for c in cmds if len(c.text) > limits.pop3_command_max]
    failures += [_line_evidence(c, f"command of {len(c.text)} octets > {limits.pop3_command_max}", artifact)
                 for c in long]
    early = _early_units(d)
    failures += [_with_artifact(ev, artifact) for _, ev in early]
    measurements = (
        Measurement("longest command", max((len(c.text) for c in cmds), default=0),
                    limits.pop3_command_max, "<=", "octets"),
        Measurement("commands sent before the previous reply", len(early), 0, "<="),
        Measurement("commands", len(cmds), None),
    )
    return judge("POP-WIRE-1", failures,
                 ok=f"{len(cmds)} commands, each one CRLF line <= {limits.pop3_command_max} octets, "
                    "each after the previous reply",
                 bad="POP3 command framing or ordering broken", measurements=measurements,
                 subject=conn.subject)


def pop_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """POP3 commands: one CRLF line <= 255 octets each, none before the previous reply is complete."""
    return _each(_pop_wire_1, conns, limits, artifact, limits.is_pop3)


def _payload_verdict(criterion: str, conn: Connection, limits: WireLimits, limit: int, why: str,
                     artifact: Path | None, extra: list[Evidence] | None = None) -> Verdict:
    data = _client_data(conn)
    measurements = (Measurement("largest client segment payload", _largest(data), limit, "<=", "octets"),)
    fake = over_mtu(conn, limits.mtu)
    if fake:  # what the capture shows is not what the wire carried
        return artefact_verdict(criterion, conn, fake, limits.mtu, artifact, measurements, limits.capture_iface)
    big = [s for s in data if s.payload_len > limit]
    failures = list(extra or [])
    if big:
        failures.insert(0, packet_evidence(
            [s.index for s in big],
            f"{len(big)} client segment(s) above {limit} octets ({why}); largest {_largest(big)}", artifact))
    return judge(criterion, failures,
                 ok=f"{len(data)} client segments, largest {_largest(data)} <= {limit} octets",
                 bad=f"client segment payload above {limit} octets" if big else "client stream broken",
                 measurements=measurements, subject=conn.subject)


def _pop_wire_2(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    return _payload_verdict("POP-WIRE-2", conn, limits, limits.pop3_payload, "declared pop3_payload", artifact)


def pop_wire_2(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """No POP3 client segment carries more than the declared pop3_payload."""
    return _each(_pop_wire_2, conns, limits, artifact, limits.is_pop3)


# ---------------------------------------------------------------- SMTP

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
        failures += [_line_evidence(line_around(c2s, unit.start + m.start()), "bare LF line ending", artifact)
                     for m in _BARE_LF.finditer(text)]
    if text.count(b"\r") != crlf:
        failures += [_line_evidence(line_around(c2s, unit.start + m.start()), "bare CR inside a line", artifact)
                     for m in _BARE_CR.finditer(text)]
    parts = text.split(b"\n")
    longest = max(map(len, parts)) + 1 if parts else 0
    if longest > limits.smtp_text_line_max:
        too_long = re.compile(rb"(?m)^[^\n]{%d,}" % limits.smtp_text_line_max)
        for m in too_long.finditer(text):
            line = line_around(c2s, unit.start + m.start())
            if len(line.text) > limits.smtp_text_line_max:
                failures.append(_line_evidence(
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
    failures = _line_end_failures(cmds, artifact)
    failures += [_line_evidence(c, f"command line of {len(c.text)} octets > {limits.smtp_command_max}", artifact)
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
    early = [(k, ev) for k, ev in _early_units(d, skip) if k not in spilled]
    failures += [_with_artifact(ev, artifact) for _, ev in early]
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
    return [_line_evidence(dot, "the server took this line as the end of DATA", artifact),
            packet_evidence([p for ln in lines for p in ln.packets],
                            f"follows from SMTP-MAIL-2: {len(lines)} body line(s) read as commands, first "
                            f"{_show(lines[0].text, 40)}", artifact)]


def smtp_wire_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """SMTP lines: commands <= 512, text <= 1000, CRLF only; no command before the previous reply."""
    return _each(_smtp_wire_1, conns, limits, artifact, limits.is_smtp)


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
    allowed = 1
    measurements = (Measurement("MAIL commands", len(mails), allowed, "==" if require_mail else "<="), *close_ms)
    support = tuple(packet_evidence([m.first_packet], _show(m.body), artifact) for m in mails) + tuple(closed_ok)
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
    return _each(lambda c, lim, a: _smtp_conn_1(c, lim, a, require_mail), conns, limits, artifact,
                 limits.is_smtp)


def _smtp_mail_1(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    txs = smtp_transactions(conn)
    if not txs:
        return inconclusive("SMTP-MAIL-1", "no MAIL transaction on this connection", conn.subject)
    failures = [packet_evidence([r.first_packet for r in tx.rcpts] or [tx.mail.first_packet],
                                f"{len(tx.rcpts)} RCPT commands for {_show(tx.mail.body)}", artifact)
                for tx in txs if len(tx.rcpts) != 1]
    most = max(len(tx.rcpts) for tx in txs)
    closed, closed_ok, close_ms = close_failures(conn, "smtp", artifact)
    verdict = judge("SMTP-MAIL-1", failures + closed, ok="exactly one RCPT per mail; the client closed after the 221",
                    bad="not exactly one RCPT per mail" if failures else "the client did not close after the 221",
                    measurements=(Measurement("RCPT commands per mail", most if failures else 1, 1, "=="), *close_ms),
                    support=tuple(packet_evidence([r.first_packet for r in tx.rcpts], _show(tx.rcpts[0].body),
                                                  artifact) for tx in txs if tx.rcpts) + tuple(closed_ok),
                    subject=conn.subject)
    return verdict if failures else cascaded(verdict, close_cascade(conn, "smtp"))


def smtp_mail_1(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """Wire part of SMTP-MAIL-1: exactly one RCPT TO per MAIL transaction."""
    return _each(_smtp_mail_1, conns, limits, artifact, limits.is_smtp)


def _smtp_mail_3(conn: Connection, limits: WireLimits, artifact: Path | None) -> Verdict:
    peer, _ = _peer_mss(conn, limits)
    own = conn.c2s.syn_mss
    negotiated = min(peer, own) if own is not None else peer
    limit = min(negotiated, limits.smtp_payload)
    why = f"min(negotiated MSS {negotiated}, smtp_payload {limits.smtp_payload})"
    gaps = [packet_evidence([g.packet], f"{g.length} octets missing before stream offset {g.offset}", artifact)
            for g in conn.c2s.gaps]
    return _payload_verdict("SMTP-MAIL-3", conn, limits, limit, why, artifact, gaps)


def smtp_mail_3(conns: Connections, limits: WireLimits, artifact: Path | None = None) -> list[Verdict]:
    """No SMTP client segment above min(negotiated MSS, smtp_payload); client stream without gaps."""
    return _each(_smtp_mail_3, conns, limits, artifact, limits.is_smtp)


# ---------------------------------------------------------------- everything

ALL_CHECKS: dict[str, Callable[..., list[Verdict]]] = {
    "NET-WIRE-1": net_wire_1,
    "NET-WIRE-2": net_wire_2,
    "POP-WIRE-1": pop_wire_1,
    "POP-WIRE-2": pop_wire_2,
    "SMTP-WIRE-1": smtp_wire_1,
    "SMTP-CONN-1": smtp_conn_1,
    "SMTP-MAIL-1": smtp_mail_1,
    "SMTP-MAIL-3": smtp_mail_3,
}


def check_wire(conns: Connections, limits: WireLimits, artifact: Path | None = None,
               criteria: Iterable[str] | None = None) -> list[Verdict]:
    """Run the wire checks (all, or the named ``criteria``) over the device's connections."""
    conns = [conns] if isinstance(conns, Connection) else list(conns)
    out: list[Verdict] = []
    with gc_paused():
        for cid in (criteria or ALL_CHECKS):
            out.extend(ALL_CHECKS[cid](conns, limits, artifact))
    return out
