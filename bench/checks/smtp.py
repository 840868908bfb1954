"""SMTP criteria judged from the server's transcript, the device's replies and the
reassembled client stream (REQUIREMENTS.md, "SMTP client")."""
from __future__ import annotations

from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Measurement, Verdict, inconclusive, judge
from bench.servers.transcript import Session, TranscriptLine
from bench.workload.message import dot_stuff, expected_message
from bench.workload.model import SendMail

_SEQUENCE = ("MAIL", "RCPT", "DATA", "QUIT")


def _client_lines(session: Session) -> list[TranscriptLine]:
    return [ln for ln in session.lines if ln.direction == "c>s"]


def _verb(line: TranscriptLine) -> str:
    return line.data.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("latin-1")


def _first_diff(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _mail_steps(ctx: CheckContext) -> list[SendMail]:
    return [s for s in ctx.run.workload.steps if isinstance(s, SendMail)]


def smtp_mail_1(ctx: CheckContext) -> list[Verdict]:
    """MAIL FROM, exactly one RCPT TO, DATA, 354, message, 250, QUIT, 221, close."""
    sessions = ctx.sessions("smtp")
    if not sessions:
        return [inconclusive("SMTP-MAIL-1", "the SMTP server saw no session")]
    verdicts = []
    from_addr = ctx.run.workload.smtp_client.mail_from
    for session, step in zip(sessions, _mail_steps(ctx)):
        failures: list[Evidence] = []
        lines = [ln for ln in _client_lines(session) if _verb(ln) in _SEQUENCE + ("EHLO", "HELO", "AUTH", "RSET")]
        verbs = [v for v in (_verb(ln) for ln in lines) if v in _SEQUENCE]
        if verbs != list(_SEQUENCE):
            bad = next((ln for ln in lines if _verb(ln) in _SEQUENCE), lines[-1] if lines else None)
            for ln in lines:
                if verbs.count(_verb(ln)) > 1:
                    bad = ln
                    break
            if bad is not None:
                failures.append(ctx.line_evidence("smtp", session, bad, f"commands were {' '.join(verbs)}"))
            else:
                failures.append(Evidence("transcript", f"session {session.id}", "no MAIL/RCPT/DATA/QUIT seen"))
        for ln in lines:
            if _verb(ln) == "MAIL" and ln.data.rstrip(b"\r\n") != f"MAIL FROM:<{from_addr}>".encode():
                failures.append(ctx.line_evidence("smtp", session, ln, f"expected MAIL FROM:<{from_addr}>"))
            if _verb(ln) == "RCPT" and ln.data.rstrip(b"\r\n") != f"RCPT TO:<{step.mail.to}>".encode():
                failures.append(ctx.line_evidence("smtp", session, ln, f"expected RCPT TO:<{step.mail.to}>"))
        replies = [ln.data[:3] for ln in session.lines if ln.direction == "s>c"]
        for code in (b"354", b"221"):
            if code not in replies:
                failures.append(Evidence("transcript", f"session {session.id}", f"server never sent {code.decode()}"))
        if session.closed_by != "client":
            failures.append(
                Evidence("transcript", f"session {session.id}", f"connection closed by {session.closed_by}, not the device")
            )
        rcpts = sum(v == "RCPT" for v in verbs)
        support = tuple(ctx.line_evidence("smtp", session, ln) for ln in lines)
        verdicts.append(
            judge(
                "SMTP-MAIL-1",
                failures,
                ok="MAIL, one RCPT, DATA, QUIT in order; device closed after 221",
                bad="SMTP command sequence or close is wrong",
                measurements=(Measurement("RCPT commands", rcpts, 1, "=="),),
                support=support,
                subject=f"smtp session {session.id} from {session.peer}",
            )
        )
    return verdicts


def smtp_mail_2(ctx: CheckContext) -> list[Verdict]:
    """The stored message carries subject, From, To and the body byte for byte;
    CRLF line ends; body lines starting with '.' dot-stuffed on the wire."""
    sessions = ctx.sessions("smtp")
    if not sessions:
        return [inconclusive("SMTP-MAIL-2", "the SMTP server saw no session")]
    verdicts = []
    connections = ctx.connections_to("smtp")
    for i, (session, step) in enumerate(zip(sessions, _mail_steps(ctx))):
        expected = expected_message(step.mail, ctx.run.workload.smtp_client)
        wire_expected = dot_stuff(expected)
        failures: list[Evidence] = []
        support: list[Evidence] = []
        subject = f"smtp session {session.id}, mail {step.mail.subject!r}"
        if not session.messages:
            failures.append(Evidence("transcript", f"session {session.id}", "no message stored"))
        else:
            stored = session.messages[0]
            if stored.data != expected:
                at = _first_diff(stored.data, expected)
                failures.append(
                    Evidence(
                        "transcript",
                        f"session {session.id} stored message, offset {at}",
                        f"stored {stored.data[max(0, at - 20):at + 40]!r} expected {expected[max(0, at - 20):at + 40]!r}"
                        f" (stored {len(stored.data)} octets, expected {len(expected)})",
                        ctx.transcript_path("smtp"),
                    )
                )
            else:
                support.append(Evidence("transcript", f"session {session.id}", f"stored message equals the {len(expected)} octets given", ctx.transcript_path("smtp")))
        stuffed_lines = wire_expected.count(b"\r\n..")
        if i < len(connections):
            stream = connections[i].c2s.stream
            start = stream.find(wire_expected[:64])
            if start < 0 or stream[start : start + len(wire_expected)] != wire_expected:
                body_at = stream.find(b"\r\n\r\n")
                got = stream[start:] if start >= 0 else stream[body_at:]
                at = _first_diff(got, wire_expected)
                off = max(0, start if start >= 0 else body_at) + at
                pkt = connections[i].c2s.packet_at(min(off, max(0, len(stream) - 1))) if stream else 0
                failures.append(
                    ctx.packet_evidence(
                        (pkt,),
                        f"DATA on the wire differs at octet {at}: sent {got[max(0, at - 10):at + 30]!r}, "
                        f"expected {wire_expected[max(0, at - 10):at + 30]!r}",
                    )
                )
            elif stuffed_lines:
                dot = stream.find(b"\r\n..", start)
                support.append(ctx.packet_evidence((connections[i].c2s.packet_at(dot + 2),), f"{stuffed_lines} dot-stuffed lines on the wire, first here"))
        elif ctx.run.pcap is not None:
            failures.append(Evidence("pcap", "-", "no SMTP connection found in the capture", ctx.run.pcap))
        verdicts.append(
            judge(
                "SMTP-MAIL-2",
                failures,
                ok="message stored byte for byte; dot-stuffing seen on the wire",
                bad="message content or its wire form is wrong",
                measurements=(Measurement("dot-stuffed lines", stuffed_lines, None),),
                support=tuple(support),
                subject=subject,
            )
        )
    return verdicts
