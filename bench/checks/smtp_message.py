"""SMTP-MAIL-2 by its own text: the stored message carries Subject, From and To with
the values the application gave (any order, other headers allowed), the body byte
for byte; lines end in CRLF and body lines starting with '.' are dot-stuffed on
the wire. Nothing here compares against the header block our firmware happens to
write: headers are parsed (``email`` from the standard library) and the body is
held to what the application gave.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses

from bench.capture.dialogue import smtp_dialogue
from bench.capture.tcpflow import Connection
from bench.checks.context import CheckContext
from bench.checks.octets import first_difference as first_diff
from bench.checks.octets import octet_diff
from bench.checks.packets import show
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, inconclusive, judge
from bench.workload.message import body_bytes, dot_stuff
from bench.workload.model import Mail, SendMail

CRITERION = "SMTP-MAIL-2"
_BARE = re.compile(rb"(?<!\r)\n|\r(?!\n)")


@dataclass(frozen=True)
class ParsedMessage:
    headers: tuple[tuple[str, str], ...]  # (name as sent, unfolded value), in order
    body: bytes
    body_offset: int  # where the body starts in the message
    has_blank_line: bool

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


def parse_message(data: bytes) -> ParsedMessage:
    """Header fields (folded lines joined) and the body after the first empty line."""
    end = -2 if data.startswith(b"\r\n") else data.find(b"\r\n\r\n")
    head, body_at = (data, len(data)) if end == -1 else (data[:max(end, 0)], end + 4)
    headers: list[tuple[str, str]] = []
    for line in head.split(b"\r\n") if head else []:
        text = line.decode("latin-1")
        if text[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + text.strip())
        elif ":" in text:
            name, value = text.split(":", 1)
            headers.append((name.strip(), value.strip()))
    return ParsedMessage(tuple(headers), data[body_at:], body_at, end != -1)


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a malformed encoded word: judge the raw text
        return value


def _address_matches(value: str, want: str) -> bool:
    addrs = [a.lower() for _, a in getaddresses([value]) if a]
    return addrs == [want.lower()]


def header_failures(msg: ParsedMessage, mail: Mail, mail_from: str) -> list[str]:
    """What is wrong with Subject, From and To (each once, with the application's value)."""
    wanted = {"Subject": mail.subject, "From": mail_from, "To": mail.to}
    out = []
    for name, want in wanted.items():
        got = msg.values(name)
        if not got:
            out.append(f"no {name} header (headers: {', '.join(n for n, _ in msg.headers) or 'none'})")
        elif len(got) > 1:
            out.append(f"{len(got)} {name} headers")
        elif name == "Subject" and _decoded(got[0]) != want:
            out.append(f"Subject {got[0]!r}, the application gave {want!r}")
        elif name != "Subject" and not _address_matches(got[0], want):
            out.append(f"{name} {got[0]!r}, the application gave {want!r}")
    return out


def expected_body(mail: Mail) -> bytes:
    """The body as stored: the application's bytes, plus the CRLF that ends an unterminated last line."""
    body = body_bytes(mail)
    return body + b"\r\n" if body and not body.endswith(b"\r\n") else body


def _wire_failures(ctx: CheckContext, conn: Connection, body: bytes) -> tuple[list[Evidence], list[Evidence]]:
    """The DATA section on the wire: CRLF line ends, the body dot-stuffed, then CRLF.CRLF."""
    data = next((u for u in smtp_dialogue(conn).units if u.kind == "data"), None)
    if data is None:
        return [ctx.packet_evidence((conn.c2s.segments[0].index,) if conn.c2s.segments else (),
                                    "no DATA section on the wire")], []
    c2s = conn.c2s
    section = c2s.stream[data.start:]  # past the terminator too: a '.' line sent unstuffed ends DATA early
    failures: list[Evidence] = []
    head_end = section.find(b"\r\n\r\n")
    head = section[:head_end + 2] if head_end >= 0 else b""
    bare = _BARE.search(head)
    if bare is not None:
        failures.append(ctx.packet_evidence((c2s.packet_at(data.start + bare.start()),),
                                            "header line not ended by CRLF"))
    if head_end < 0:
        failures.append(ctx.packet_evidence((data.first.first_packet,), "no empty line after the headers on the wire"))
        return failures, []
    start = data.start + head_end + 4
    want = dot_stuff(body) if body else b".\r\n"
    got = c2s.stream[start:start + len(want)]
    if got == want:
        stuffed = body.count(b"\n.") + body.startswith(b".")
        where = c2s.stream.find(b"\n..", start)
        pk = (c2s.packet_at(where + 1),) if stuffed and where >= 0 else (c2s.packet_at(start),)
        return failures, [ctx.packet_evidence(pk, f"body on the wire: CRLF line ends, {stuffed} line(s) "
                                              "starting with '.' dot-stuffed, then CRLF.CRLF")]
    at = first_diff(got, want)
    pos = min(start + at, len(c2s.stream) - 1)
    line_start = c2s.stream.rfind(b"\n", 0, pos) + 1
    sent_line = c2s.stream[line_start:c2s.stream.find(b"\n", pos) + 1 or None]
    if sent_line.startswith(b".") and not sent_line.startswith(b".."):
        why = f"body line starting with '.' sent without dot-stuffing: {show(sent_line, 40)!r}"
    elif want[at:at + 1] == b"\r" and got[at:at + 1] == b"\n":
        why = f"bare LF line end in the body: {show(sent_line, 40)!r}"
    else:
        why = "body on the wire " + octet_diff(got, want, ("sent", "expected"))
    failures.append(ctx.packet_evidence((c2s.packet_at(pos),) if c2s.stream else (), why))
    return failures, []


def smtp_mail_2(ctx: CheckContext) -> list[Verdict]:
    sessions = ctx.sessions("smtp")
    if not sessions:
        return [inconclusive(CRITERION, "the SMTP server saw no session")]
    steps = [s for s in ctx.run.workload.steps if isinstance(s, SendMail)]
    connections = ctx.connections_to("smtp")
    mail_from = ctx.run.workload.smtp_client.mail_from
    verdicts = []
    for i, (session, step) in enumerate(zip(sessions, steps)):
        where = ctx.transcript_path("smtp")
        failures: list[Evidence] = []
        support: list[Evidence] = []
        body = expected_body(step.mail)
        if not session.messages:
            failures.append(Evidence("transcript", f"session {session.id}", "no message stored", where))
        else:
            stored = parse_message(session.messages[0].data)
            failures += [Evidence("transcript", f"session {session.id} stored message headers", why, where)
                         for why in header_failures(stored, step.mail, mail_from)]
            if not stored.has_blank_line:
                failures.append(Evidence("transcript", f"session {session.id} stored message",
                                         "no empty line between headers and body", where))
            elif stored.body != body:
                at = first_diff(stored.body, body)
                failures.append(Evidence(
                    "transcript", f"session {session.id} stored message, body offset {at}",
                    "body " + octet_diff(stored.body, body, ("stored", "given")), where))
            else:
                names = ", ".join(n for n, _ in stored.headers)
                support.append(Evidence("transcript", f"session {session.id}",
                                        f"Subject, From, To as given (headers: {names}); body equals the "
                                        f"{len(body)} octets given", where))
        if i < len(connections):
            more, ok = _wire_failures(ctx, connections[i], body)
            failures += more
            support += ok
        elif ctx.run.pcap is not None:
            failures.append(Evidence("pcap", "-", "no SMTP connection found in the capture", ctx.run.pcap))
        elif not failures:
            verdicts.append(Verdict(CRITERION, Outcome.INCONCLUSIVE, "message stored as given, but this run has no "
                                    "capture: CRLF and dot-stuffing on the wire not judged", tuple(support), (),
                                    f"smtp session {session.id}, mail {step.mail.subject!r}"))
            continue
        verdicts.append(judge(
            CRITERION, failures,
            ok="Subject, From, To and the body stored as given; CRLF and dot-stuffing on the wire",
            bad="message headers, body or its wire form wrong",
            measurements=(Measurement("body lines starting with '.'", body.count(b"\n.") + body.startswith(b"."),
                                      None),),
            support=tuple(support), subject=f"smtp session {session.id}, mail {step.mail.subject!r}"))
    return verdicts
