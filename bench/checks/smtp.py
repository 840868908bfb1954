"""SMTP criteria judged from the server's transcript, the device's replies and the
reassembled client stream (REQUIREMENTS.md, "SMTP client")."""
from __future__ import annotations

from bench.capture.dialogue import smtp_dialogue
from bench.checks.closing import close_failures
from bench.checks.context import CheckContext, server_reply
from bench.checks.split_replies import reply_shape
from bench.checks.verdict import Evidence, Measurement, Verdict, inconclusive, judge
from bench.servers.transcript import Session, TranscriptLine
from bench.workload.evidence import StepResult
from bench.workload.model import SendMail

_SEQUENCE = ("MAIL", "RCPT", "DATA", "QUIT")


def _client_lines(session: Session) -> list[TranscriptLine]:
    return [ln for ln in session.lines if ln.direction == "c>s"]


def _verb(line: TranscriptLine) -> str:
    return line.data.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("latin-1")


def _same_command(line: bytes, keyword: str, arg: str) -> bool:
    """Equal up to the case of the keyword (RFC 5321 2.4); the argument exactly."""
    got = line.rstrip(b"\r\n").decode("latin-1")
    return got[: len(keyword)].upper() == keyword and got[len(keyword) :] == arg


def _mail_steps(ctx: CheckContext) -> list[SendMail]:
    return [s for s in ctx.run.workload.steps if isinstance(s, SendMail)]


def smtp_mail_1(ctx: CheckContext) -> list[Verdict]:
    """MAIL FROM, exactly one RCPT TO, DATA, 354, message, 250, QUIT, 221 (the close after
    the 221 is judged from the capture: bench.checks.closing)."""
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
        wanted = {"MAIL": ("MAIL FROM:", f"<{from_addr}>"), "RCPT": ("RCPT TO:", f"<{step.mail.to}>")}
        for ln in lines:
            want = wanted.get(_verb(ln))
            if want is not None and not _same_command(ln.data, *want):
                failures.append(ctx.line_evidence("smtp", session, ln, f"expected {''.join(want)}"))
        # reply codes at line starts of everything the server wrote: a reply split over writes is one reply
        written = b"".join(ln.data for ln in session.lines if ln.direction == "s>c")
        replies = [line[:3] for line in written.split(b"\n")]
        for code in (b"354", b"221"):
            if code not in replies:
                failures.append(Evidence("transcript", f"session {session.id}", f"server never sent {code.decode()}"))
        rcpts = sum(v == "RCPT" for v in verbs)
        support = tuple(ctx.line_evidence("smtp", session, ln) for ln in lines)
        verdicts.append(
            judge(
                "SMTP-MAIL-1",
                failures,
                ok="MAIL, one RCPT, DATA, QUIT in order, 354 and 221 received",
                bad="SMTP command sequence or close is wrong",
                measurements=(Measurement("RCPT commands", rcpts, 1, "=="),),
                support=support,
                subject=f"smtp session {session.id} from {session.peer}",
            )
        )
    return verdicts


# -- session behaviour: EHLO, AUTH, errors, connections ------------------------
def _pairs(ctx: CheckContext) -> list[tuple[Session, StepResult]]:
    """Each SMTP session with the send step that opened it (one connection per mail)."""
    mail_steps = [sr for sr in ctx.run.steps if isinstance(sr.step, SendMail)]
    return list(zip(ctx.sessions("smtp"), mail_steps))


def _lines_with(session: Session, verb: str) -> list[TranscriptLine]:
    return [ln for ln in _client_lines(session) if _verb(ln) == verb]


def _per_session(criterion: str, ctx: CheckContext, judge_one, ok: str, bad: str, only_failing: bool = False) -> list[Verdict]:  # type: ignore[no-untyped-def]
    pairs = [(s, sr) for s, sr in _pairs(ctx) if not only_failing or sr.step.expect == "err"]
    if not pairs:
        return [inconclusive(criterion, "the SMTP server saw no session")]
    out = []
    for session, sr in pairs:
        failures, support = judge_one(session, sr)
        out.append(judge(criterion, failures, ok=ok, bad=bad, support=tuple(support), subject=f"smtp session {session.id} from {session.peer}"))
    return out


def _advertised_auth(reply: TranscriptLine) -> list[str] | None:
    """Mechanisms of the AUTH line(s) of an EHLO reply (``AUTH x y`` or ``AUTH=x y``); None without one."""
    found: list[str] | None = None
    for line in reply.data.split(b"\n"):
        words = line[4:].strip().decode("latin-1").upper().replace("AUTH=", "AUTH ", 1).split()
        if len(line) > 4 and words[:1] == ["AUTH"]:
            found = (found or []) + words[1:]
    return found


def smtp_ehlo_1(ctx: CheckContext) -> list[Verdict]:
    """Opens with EHLO <domain>; every 250 EHLO reply parsed: the client goes on to the next
    command of the session (not QUIT), and the AUTH mechanism it picks was advertised."""
    domain = ctx.run.workload.smtp_client.domain
    conns = ctx.connections_to("smtp")
    out = []
    for i, (session, sr) in enumerate(_pairs(ctx)):
        failures: list[Evidence] = []
        support: list[Evidence] = []
        measurements: list[Measurement] = []
        client = _client_lines(session)
        if not client:
            failures.append(Evidence("transcript", f"session {session.id}", "client sent nothing", ctx.transcript_path("smtp")))
        elif not _same_command(client[0].data, "EHLO ", domain):
            failures.append(ctx.line_evidence("smtp", session, client[0], f"expected EHLO {domain}"))
        for k, ehlo in enumerate(client):
            if _verb(ehlo) != "EHLO":
                continue
            reply = server_reply(session, ehlo)
            if reply is None or not reply.data.startswith(b"250"):
                continue  # refused: SMTP-EHLO-2's case
            nxt = client[k + 1] if k + 1 < len(client) else None
            if nxt is None:
                failures.append(ctx.line_evidence("smtp", session, ehlo, "nothing sent after the 250 reply to EHLO"))
            elif _verb(nxt) == "QUIT":
                failures.append(ctx.line_evidence("smtp", session, nxt, "QUIT right after the 250 reply to EHLO: the client did not get past the reply"))
            else:
                support += [ctx.line_evidence("smtp", session, ehlo), ctx.line_evidence("smtp", session, nxt, "next command")]
            advertised = _advertised_auth(reply)
            later = client[k + 1 :]
            stop = next((j for j, ln in enumerate(later) if _verb(ln) == "EHLO"), len(later))
            auth = next((ln for ln in later[:stop] if _verb(ln) == "AUTH"), None)
            if auth is not None and advertised is not None:
                chosen = (auth.data.split()[1:2] or [b""])[0].decode("latin-1").upper()
                if chosen not in advertised:
                    failures.append(ctx.line_evidence("smtp", session, auth, f"AUTH {chosen} chosen; the EHLO reply advertised only {' '.join(advertised)}"))
                else:
                    support.append(ctx.line_evidence("smtp", session, auth, f"chosen from the advertised {' '.join(advertised)}"))
        if i < len(conns):  # how the (first) EHLO reply travelled: one segment, or split
            d = smtp_dialogue(conns[i])
            unit = next((j for j, u in enumerate(d.units) if u.verb == b"EHLO"), None)
            wire_reply = d.reply_to(unit) if unit is not None else None
            if wire_reply is not None:
                shape = reply_shape(conns[i].s2c, wire_reply, "EHLO")
                measurements.append(Measurement("segments carrying the EHLO reply", len(shape.chunks), None))
                support.append(ctx.packet_evidence(shape.packets, shape.describe()))
        out.append(judge("SMTP-EHLO-1", failures, ok="opens with EHLO <domain>; got past each 250 reply to the next command; AUTH chosen from those advertised",
                         bad="EHLO wrong or its reply not parsed", measurements=tuple(measurements), support=tuple(support),
                         subject=f"smtp session {session.id} from {session.peer}"))
    return out or [inconclusive("SMTP-EHLO-1", "the SMTP server saw no session")]


def smtp_ehlo_2(ctx: CheckContext) -> list[Verdict]:
    domain = ctx.run.workload.smtp_client.domain

    def one(session: Session, sr):  # type: ignore[no-untyped-def]
        client = _client_lines(session)
        verbs = [_verb(ln) for ln in client]
        if verbs[:2] != ["EHLO", "HELO"]:
            ev = client[1] if len(client) > 1 else (client[0] if client else None)
            return [ctx.line_evidence("smtp", session, ev, "expected HELO after the refused EHLO") if ev else Evidence("transcript", f"session {session.id}", "no commands")], []
        helo = client[1]
        if not _same_command(helo.data, "HELO ", domain):
            return [ctx.line_evidence("smtp", session, helo, f"expected HELO {domain}")], []
        return [], [ctx.line_evidence("smtp", session, ln) for ln in client[:3]]

    return _per_session("SMTP-EHLO-2", ctx, one, "falls back to HELO <domain> after EHLO is refused", "no HELO fallback")


def _auth_check(criterion: str, mechanism: str):  # type: ignore[no-untyped-def]
    def check(ctx: CheckContext) -> list[Verdict]:
        def one(session: Session, sr):  # type: ignore[no-untyped-def]
            auth = _lines_with(session, "AUTH")
            if not auth:
                return [Evidence("transcript", f"session {session.id}", f"no AUTH {mechanism} sent")], []
            line = auth[0]
            failures = []
            if line.data.rstrip(b"\r\n").upper() != f"AUTH {mechanism}".encode():
                failures.append(ctx.line_evidence("smtp", session, line, f"expected a bare AUTH {mechanism} (no initial response)"))
            if session.auth_ok is not True:
                failures.append(ctx.line_evidence("smtp", session, line, f"server did not accept the credentials (auth_ok={session.auth_ok})"))
            if not _lines_with(session, "MAIL"):
                failures.append(Evidence("transcript", f"session {session.id}", "no MAIL after 235"))
            return failures, [ctx.line_evidence("smtp", session, line, f"method {session.auth_method}, accepted {session.auth_ok}")]

        return _per_session(criterion, ctx, one, f"AUTH {mechanism} accepted with 235", f"AUTH {mechanism} not done as the seed says")

    return check


smtp_auth_1 = _auth_check("SMTP-AUTH-1", "PLAIN")
smtp_auth_2 = _auth_check("SMTP-AUTH-2", "LOGIN")


def smtp_auth_3(ctx: CheckContext) -> list[Verdict]:
    """Credentials refused: error reported, no MAIL sent, connection closed."""
    from bench.checks.device import op_evidence

    def one(session: Session, sr):  # type: ignore[no-untyped-def]
        failures = []
        op = sr.final
        if op.ok:
            failures.append(op_evidence(ctx, op, "application told ok after the server refused AUTH"))
        elif op.stage != "auth":
            failures.append(op_evidence(ctx, op, "expected stage=auth"))
        for ln in _lines_with(session, "MAIL"):
            failures.append(ctx.line_evidence("smtp", session, ln, "MAIL sent after AUTH was refused"))
        conn = ctx.connection_of("smtp", ctx.sessions("smtp").index(session))
        if conn is not None:  # closed: by the client, after the refusal (the capture decides)
            failures += close_failures(conn, "smtp", ctx.run.pcap)[0]
        elif session.ended is None:
            failures.append(Evidence("transcript", f"session {session.id}", "connection left open"))
        return failures, [op_evidence(ctx, op)]

    return _per_session("SMTP-AUTH-3", ctx, one, "AUTH refusal reported; no MAIL; connection closed", "AUTH refusal mishandled", only_failing=True)


def smtp_auth_4(ctx: CheckContext) -> list[Verdict]:
    """No AUTH advertised: PLAIN/LOGIN-configured client uses PLAIN; NONE skips to
    MAIL. CRAM-MD5 never attempted."""

    def one(session: Session, sr):  # type: ignore[no-untyped-def]
        configured = sr.step.auth or ctx.run.workload.smtp_client.auth
        ehlo = next((ln for ln in _client_lines(session) if _verb(ln) == "EHLO"), None)
        reply = server_reply(session, ehlo) if ehlo is not None else None
        advertised = reply is not None and b"AUTH" in reply.data.upper()
        auth = _lines_with(session, "AUTH")
        failures = [ctx.line_evidence("smtp", session, ln, "CRAM-MD5 attempted") for ln in auth if b"CRAM-MD5" in ln.data.upper()]
        if configured == "none" and auth:
            failures.append(ctx.line_evidence("smtp", session, auth[0], "AUTH sent by a client configured for none"))
        want = "PLAIN" if not advertised else configured.upper()
        if configured in ("plain", "login") and (not auth or not auth[0].data.upper().startswith(f"AUTH {want}".encode())):
            failures.append(Evidence("transcript", f"session {session.id}", f"client configured {configured}, AUTH advertised: {advertised}; expected AUTH {want}, sent {[ln.data for ln in auth]}"))
        if not _lines_with(session, "MAIL"):
            failures.append(Evidence("transcript", f"session {session.id}", "no MAIL"))
        return failures, [ctx.line_evidence("smtp", session, ln) for ln in _client_lines(session)[:3]]

    return _per_session("SMTP-AUTH-4", ctx, one, "AUTH chosen as the seed says; never CRAM-MD5", "wrong AUTH choice")


def smtp_err_1(ctx: CheckContext) -> list[Verdict]:
    """A 4xx/5xx or a dropped connection gives a non-zero status naming the stage;
    the connection is closed; the next send on the same client works."""
    from bench.checks.device import expectation_failures, op_evidence

    pairs = _pairs(ctx)
    if not pairs:
        return [inconclusive("SMTP-ERR-1", "the SMTP server saw no session")]
    steps = [sr for _, sr in pairs]
    failures = expectation_failures(ctx, steps)
    for session, sr in pairs:
        if sr.step.expect == "err" and session.ended is None:
            failures.append(Evidence("transcript", f"session {session.id}", "connection not closed after the error"))
    last_err = max((i for i, sr in enumerate(steps) if sr.step.expect == "err"), default=None)
    if last_err is not None and not any(sr.final.ok for sr in steps[last_err + 1 :]):
        failures.append(Evidence("device", "workload", "no successful send after the error"))
    return [
        judge(
            "SMTP-ERR-1",
            failures,
            ok="each error named its stage; connection closed; next send worked",
            bad="SMTP error path wrong",
            support=tuple(op_evidence(ctx, sr.final) for sr in steps),
            subject=ctx.run.workload.name,
        )
    ]


def smtp_conn_1(ctx: CheckContext) -> list[Verdict]:
    """Transcript part: one session per mail, over the workload's IP family (the close is
    judged from the capture)."""
    pairs = _pairs(ctx)
    mails = len([s for s in ctx.run.workload.steps if isinstance(s, SendMail)])
    sessions = ctx.sessions("smtp")
    failures: list[Evidence] = []
    if len(sessions) != mails:
        failures.append(Evidence("transcript", "all sessions", f"{len(sessions)} SMTP sessions for {mails} mails", ctx.transcript_path("smtp")))
    want6 = ctx.run.workload.family == 6
    for session, _ in pairs:
        if (":" in session.peer.rsplit(":", 1)[0]) != want6:
            failures.append(Evidence("transcript", f"session {session.id}", f"peer {session.peer} is not IPv{ctx.run.workload.family}", ctx.transcript_path("smtp")))
    return [
        judge(
            "SMTP-CONN-1",
            failures,
            ok=f"one connection per mail over IPv{ctx.run.workload.family}",
            bad="connections per mail wrong",
            measurements=(Measurement("sessions", len(sessions), mails, "=="),),
            subject=ctx.run.workload.name,
        )
    ]
