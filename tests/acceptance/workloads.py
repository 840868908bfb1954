"""Workloads of the acceptance suite: plain data.

Each builder returns a ``Workload``: what the device does, what the emulated
servers hold and how they misbehave (fault plans). The criteria that judge it
are its test's ``@pytest.mark.criterion(...)``, declared once, in the test
modules (the constants below are shared sets of them).
Fault rules name what they fire on (the first MAIL on the server, every RETR 3,
the RETR of step 2),
never a session number, so a transient failed open cannot move a fault onto
another session. A split reply leaves one TCP segment per chunk, and the fault
evidence check reads the board's capture to show it did.
"""
from __future__ import annotations

from dataclasses import replace

from bench.servers.faults import FaultPlan, FaultRule
from bench.workload.fill import fill_pattern
from bench.workload.model import (
    Mail,
    Pop3Op,
    Pop3Open,
    Pop3ServerSpec,
    SendMail,
    SmtpServerSpec,
    Step,
    Workload,
)

USER, PASSWORD = "mrose", "tanstaaf"
INBOX = "inbox@bench.test"
WIRE = ("NET-WIRE-1", "NET-WIRE-2")
SMTP_WIRE = ("SMTP-WIRE-1", "SMTP-CONN-1", *WIRE)
POP_WIRE = ("POP-WIRE-1", "POP-WIRE-2", *WIRE)
ONE_MAIL = ("SMTP-MAIL-1", "SMTP-MAIL-2", "SMTP-MAIL-3", "SMTP-EHLO-1", "SMTP-AUTH-1", *SMTP_WIRE)
POP_SESSION = ("POP-CONN-1", "POP-AUTH-1", "POP-TRANS-1", "POP-TRANS-2", "POP-TRANS-3", "POP-TRANS-4", *POP_WIRE)


def dotted_body(size: int = 6 * 1024) -> bytes:
    """Several KiB of text whose lines include some starting with '.' (and a lone '.')."""
    text = fill_pattern(size - 40)
    return b".first line starts with a dot\r\n" + text[: text.rfind(b"\r\n") + 2] + b".\r\n..two dots\r\n"


def whole_lines(size: int) -> bytes:
    """The fill pattern cut back to its last complete line."""
    text = fill_pattern(size)
    return text[: text.rfind(b"\r\n") + 2]


def mail(subject: str = "Bench mail", body: bytes | None = None, priority: str = "normal") -> Mail:
    return Mail(to=INBOX, subject=subject, body=dotted_body() if body is None else body, priority=priority)  # type: ignore[arg-type]


def maildrop() -> dict[str, tuple[str, tuple[bytes, ...]]]:
    return {
        USER: (
            PASSWORD,
            (
                b"From: a@bench.test\r\nSubject: short\r\n\r\nHello.\r\n",
                b"From: b@bench.test\r\nSubject: dotted\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n",
                b"From: c@bench.test\r\nSubject: long\r\n\r\n" + whole_lines(12 * 1024),
            ),
        )
    }


MESSAGES = maildrop()[USER][1]


# -- SMTP -----------------------------------------------------------------------
def one_mail(family: int = 4) -> Workload:
    return Workload(
        name=f"smtp-one-mail-ipv{family}",
        description="send one mail with a body of several KiB that includes lines starting with '.'",
        steps=(SendMail(mail("Bench slice: one mail")),),
        family=family,  # type: ignore[arg-type]
        smtp_server=SmtpServerSpec(),
    )


def two_mails(family: int) -> Workload:
    return Workload(
        name=f"smtp-two-mails-ipv{family}",
        description="two sends on one client: two connections, each closed",
        steps=(SendMail(mail("first", b"one\r\n")), SendMail(mail("second", b"two\r\n", priority="high"))),
        family=family,  # type: ignore[arg-type]
        smtp_server=SmtpServerSpec(),
    )


def large_mail() -> Workload:
    body = Mail(to=INBOX, subject="large", body=b"", fill=64 * 1024)
    return Workload(
        name="smtp-64k-body",
        description="a 64 KiB body generated on the device: many segments, none above the limits",
        steps=(SendMail(body),),
        smtp_server=SmtpServerSpec(),
    )


SPLIT_EXTENSIONS = ("8BITMIME", "SIZE 1000000", "ENHANCEDSTATUSCODES")


def ehlo_split() -> Workload:
    plan = FaultPlan([FaultRule("EHLO", "split", size=1), FaultRule("greeting", "split", size=3)])
    return Workload(
        name="smtp-ehlo-split",
        description="greeting and multi-line EHLO reply arrive a byte (or three) per segment",
        steps=(SendMail(mail("split", b"split\r\n")),),
        smtp_server=SmtpServerSpec(options={"extensions": SPLIT_EXTENSIONS}, faults=plan),
    )


def ehlo_split_login_only() -> Workload:
    """AUTH LOGIN is the only mechanism, on the EHLO reply's last keyword line, one octet per
    segment: a client that misses it (and falls back to PLAIN) fails SMTP-EHLO-1 and SMTP-AUTH-2."""
    plan = FaultPlan([FaultRule("EHLO", "split", size=1)])
    return Workload(
        name="smtp-ehlo-split-login-only",
        description="EHLO reply advertising only AUTH LOGIN, one octet per segment, to a LOGIN client",
        steps=(SendMail(mail("split login", b"split login\r\n"), auth="login"),),
        smtp_server=SmtpServerSpec(options={"extensions": SPLIT_EXTENSIONS, "auth_mechanisms": ("LOGIN",)},
                                   faults=plan),
    )


def smtp_fault(name: str, rule: FaultRule, expect: str = "err") -> Workload:
    """A malformed SMTP server (DEV-ROB-1): the first send meets the fault (on the first
    matching event on the server), the device reports a clear error, the next send works.
    With ``expect="ok"`` the rule applies throughout and both sends must succeed."""
    first = SendMail(mail("meets the fault", b"x\r\n"), expect=expect)  # type: ignore[arg-type]
    if expect == "err":
        rule = replace(rule, step=1, times=1)  # the first send, once
    return Workload(
        name=f"smtp-fault-{name}",
        description=f"{rule.describe()}: clear error, device answers, next send works",
        steps=(first, SendMail(mail("after the fault", b"y\r\n"))),
        smtp_server=SmtpServerSpec(faults=FaultPlan([rule])),
        timeout_ms=1000,
    )


def long_subject(size: int = 250) -> str:
    """A Subject of ``size`` octets (words, single spaces): longer than the small fixed
    buffers a client might cut it to, well inside a 1000-octet header line."""
    words = " ".join(f"word{i:03d}" for i in range(size // 8 + 1))
    return words[:size].rstrip()


def header_values() -> Workload:
    """The values as applications give them: a long Subject and recipient, a body whose last
    line has no CRLF (the client adds the CRLF before the terminator, SMTP-MAIL-2)."""
    to = "a.rather.long.recipient.name-for-fixed-buffers@mail.subdomain.bench.test"
    return Workload(
        name="smtp-header-values",
        description="a 250-octet Subject, a 72-octet recipient and a body without a final CRLF",
        steps=(SendMail(Mail(to=to, subject=long_subject(), body=b"first line\r\nlast line, no line end")),),
        smtp_server=SmtpServerSpec(),
    )


def ehlo_refused(code: int) -> Workload:
    refuse = FaultRule("EHLO", "reply", line=f"{code} 5.5.1 EHLO not supported")
    return Workload(
        name=f"smtp-ehlo-{code}",
        description=f"EHLO answered {code}: HELO fallback",
        steps=(SendMail(mail("helo", b"helo\r\n")),),
        smtp_server=SmtpServerSpec(options={"require_auth": False}, faults=FaultPlan([refuse])),
    )


def auth(mechanism: str) -> Workload:
    return Workload(
        name=f"smtp-auth-{mechanism}",
        description=f"AUTH {mechanism.upper()} with the seed's exchange",
        steps=(SendMail(mail(f"auth {mechanism}", b"auth\r\n"), auth=mechanism),),  # type: ignore[arg-type]
        smtp_server=SmtpServerSpec(),
    )


#: SASL answers each mechanism sends before the server's verdict (PLAIN one, LOGIN user name then password)
SASL_ANSWERS = {"plain": 1, "login": 2}


def auth_refused(mechanism: str = "plain") -> Workload:
    """535 to the mechanism's last answer (the password), the first time on the server."""
    refuse = FaultRule("auth-reply", "reply", line="535 5.7.8 Bad credentials", nth=SASL_ANSWERS[mechanism], scope="server")
    return Workload(
        name=f"smtp-auth-refused-{mechanism}",
        description=f"AUTH {mechanism.upper()} with a wrong password: 535, error reported, no MAIL, then a good send",
        steps=(
            SendMail(mail("refused", b"x\r\n"), expect="err", stage="auth", auth=mechanism),  # type: ignore[arg-type]
            SendMail(mail("after", b"y\r\n"), auth=mechanism),  # type: ignore[arg-type]
        ),
        smtp_server=SmtpServerSpec(faults=FaultPlan([refuse])),
    )


def no_auth_advertised(configured: str) -> Workload:
    return Workload(
        name=f"smtp-no-auth-advertised-{configured}",
        description=f"EHLO lists no AUTH; client configured {configured}",
        steps=(SendMail(mail("no auth", b"x\r\n"), auth=configured),),  # type: ignore[arg-type]
        smtp_server=SmtpServerSpec(options={"advertise_auth": False, "require_auth": False}),
    )


def cram_md5_offered() -> Workload:
    return Workload(
        name="smtp-cram-md5-offered",
        description="server offers CRAM-MD5 first: the client must not use it",
        steps=(SendMail(mail("cram", b"x\r\n"), auth="login"),),
        smtp_server=SmtpServerSpec(options={"auth_mechanisms": ("CRAM-MD5", "LOGIN", "PLAIN")}),
    )


def smtp_error(event: str, stage: str, rule: FaultRule) -> Workload:
    return Workload(
        name=f"smtp-error-{stage}-{rule.action}",
        description=f"{rule.describe()} at {event}: stage named, connection closed, next send works",
        steps=(SendMail(mail("fails", b"x\r\n"), expect="err", stage=stage), SendMail(mail("works", b"y\r\n"))),
        smtp_server=SmtpServerSpec(faults=FaultPlan([rule])),
        timeout_ms=1000,
    )


# -- POP3 -------------------------------------------------------------------------
def pop3_session(family: int = 4, apop: bool = False) -> Workload:
    steps: tuple[Step, ...] = (
        Pop3Open(USER, PASSWORD, apop=apop),
        Pop3Op("stat"),
        Pop3Op("list", 1),
        Pop3Op("list", 3),
        Pop3Op("retr", 1),
        Pop3Op("retr", 2),
        Pop3Op("retr", 3),
        Pop3Op("noop", probe=True),
        Pop3Op("dele", 1),
        Pop3Op("quit"),
    )
    return Workload(
        name=f"pop3-session-ipv{family}{'-apop' if apop else ''}",
        description="login, STAT, LIST, RETR of short, dotted and 12 KiB messages, DELE, QUIT",
        steps=steps,
        family=family,  # type: ignore[arg-type]
        pop3_server=Pop3ServerSpec(maildrop()),
    )


def pop3_rset() -> Workload:
    return Workload(
        name="pop3-dele-rset",
        description="DELE then RSET then QUIT: nothing deleted",
        steps=(Pop3Open(USER, PASSWORD), Pop3Op("dele", 2), Pop3Op("rset"), Pop3Op("noop"), Pop3Op("quit")),
        pop3_server=Pop3ServerSpec(maildrop()),
    )


def pop3_apop(options: dict, criterion: str, faults: FaultPlan | None = None) -> Workload:
    return Workload(
        name=f"pop3-{criterion.lower()}",
        description=f"APOP requested; server options {options}" + (f", faults {faults.rules[0].describe()}" if faults else ""),
        steps=(Pop3Open(USER, PASSWORD, apop=True), Pop3Op("stat"), Pop3Op("quit")),
        pop3_server=Pop3ServerSpec(maildrop(), options=options, faults=faults),
    )


def pop3_apop_refused() -> Workload:
    """APOP answered -ERR even with the right digest: the fallback to USER/PASS (POP-AUTH-3)."""
    refuse = FaultRule("APOP", "reply", line="-ERR [AUTH] APOP not accepted", nth=1, scope="server")
    return pop3_apop({}, "POP-AUTH-3", FaultPlan([refuse]))


def pop3_bad_password() -> Workload:
    return Workload(
        name="pop3-bad-password",
        description="PASS refused: auth error, no transaction commands; then a good login",
        steps=(Pop3Open(USER, "wrong", expect="err"), Pop3Open(USER, PASSWORD), Pop3Op("quit")),
        # the wrong password is refused anyway; the rule makes the refusal a recorded hit
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan([
            FaultRule("PASS", "reply", line="-ERR [AUTH] invalid user name or password", nth=1, scope="server")])),
    )


def pop3_err(verb: str, op: Pop3Op) -> Workload:
    return Workload(
        name=f"pop3-err-{verb.lower()}",
        description=f"-ERR to {verb}: reported; the session stays usable",
        steps=(Pop3Open(USER, PASSWORD), op, Pop3Op("noop", probe=True), Pop3Op("quit")),
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan([
            FaultRule(verb, "reply", line="-ERR injected failure", nth=1, scope="server")])),
    )


def pop3_fault(name: str, rule: FaultRule, op: Pop3Op, timeout_ms: int = 1500) -> Workload:
    """A malformed server: the faulted step must fail cleanly and the next session succeed."""
    fail_open = rule.match in ("connect", "greeting", "USER", "PASS")
    steps: tuple[Step, ...] = (
        (Pop3Open(USER, PASSWORD, expect="err"),)
        if fail_open
        else (Pop3Open(USER, PASSWORD), Pop3Op(op.op, op.n, expect="err"), Pop3Op("abort"))
    )
    return Workload(
        name=f"pop3-fault-{name}",
        description=f"{rule.describe()}: clear error, device answers, next session works",
        steps=(*steps, Pop3Open(USER, PASSWORD), Pop3Op("stat"), Pop3Op("quit")),
        # keyed on the step that meets the fault: the open, or the operation after it
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan([replace(rule, step=1 if fail_open else 2)])),
        timeout_ms=timeout_ms,
    )


def pop3_large_figures() -> Workload:
    """STAT and LIST figures beyond 16 and 31 bits (a maildrop of gigabytes): reported as stated."""
    plan = FaultPlan([FaultRule("STAT", "reply", line="+OK 70000 4000000000", nth=1, scope="server"),
                      FaultRule("LIST", "reply", line="+OK 1 3000000000", nth=1, scope="server")])
    return Workload(
        name="pop3-large-figures",
        description="STAT answered 70000 items, 4000000000 octets; LIST 1 answered 3000000000 octets",
        steps=(Pop3Open(USER, PASSWORD), Pop3Op("stat"), Pop3Op("list", 1), Pop3Op("quit")),
        pop3_server=Pop3ServerSpec(maildrop(), faults=plan),
    )


def pop3_long_user(payload: int) -> Workload:
    """User names at the device's declared POP3 payload: ``USER <name>`` CRLF exactly ``payload``
    octets (must log in), then one octet more (a name the server does not know: an error either
    way; the client refuses it or sends it in segments that each fit the payload)."""
    fits, over = "u" * (payload - 7), "v" * (payload - 6)
    drops = {**maildrop(), fits: (PASSWORD, MESSAGES[:1])}
    return Workload(
        name="pop3-user-at-payload",
        description=f"USER commands of {payload} and {payload + 1} octets (declared pop3_payload {payload})",
        steps=(Pop3Open(fits, PASSWORD), Pop3Op("stat"), Pop3Op("quit"), Pop3Open(over, PASSWORD, expect="err")),
        pop3_server=Pop3ServerSpec(drops),
    )


def pop3_split() -> Workload:
    """Every reply one octet per segment: greeting, single-line and multi-line (POP-WIRE-3).
    The messages are short: a 12 KiB RETR at one octet per segment would take seconds."""
    steps: tuple[Step, ...] = (
        Pop3Open(USER, PASSWORD), Pop3Op("stat"), Pop3Op("list", 1), Pop3Op("list", 2),
        Pop3Op("retr", 1), Pop3Op("retr", 2), Pop3Op("noop"), Pop3Op("dele", 1), Pop3Op("quit"),
    )
    return Workload(
        name="pop3-split-1",
        description="every POP3 reply one octet per segment: STAT, LIST, RETR of a short and a dotted message",
        steps=steps,
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan([FaultRule("*", "split", size=1)])),
    )


def pop3_split_apop() -> Workload:
    """The APOP greeting (its timestamp) and every reply one octet per segment: the timestamp
    must be found however the greeting is split (POP-WIRE-3), and APOP sent (POP-AUTH-2)."""
    return Workload(
        name="pop3-split-1-apop",
        description="APOP login with the greeting and every reply one octet per segment, STAT, QUIT",
        steps=(Pop3Open(USER, PASSWORD, apop=True), Pop3Op("stat"), Pop3Op("quit")),
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan([FaultRule("*", "split", size=1)])),
    )


def soak(rounds: int) -> Workload:
    """Alternating SMTP sends, POP3 sessions and faulted sessions; memory must return to baseline."""
    steps: list[Step] = []
    for i in range(rounds):
        steps.append(SendMail(mail(f"soak {i}", b"soak body\r\n.dot\r\n")))
        steps += [Pop3Open(USER, PASSWORD), Pop3Op("stat"), Pop3Op("retr", 2), Pop3Op("quit")]
        if i % 5 == 4:  # every fifth round the POP3 server resets the connection mid-RETR
            steps += [Pop3Open(USER, PASSWORD), Pop3Op("retr", 3, expect="err")]
    # keyed on the command: only the fifth rounds ask for RETR 3, and every RETR 3 is reset
    every_fifth = [FaultRule("RETR", "reset", size=200, arg="3")]
    return Workload(
        name=f"soak-{rounds}",
        description=f"{rounds} rounds of SMTP + POP3 (+ a reset mid-transfer every fifth): memory back to baseline",
        steps=tuple(steps),
        smtp_server=SmtpServerSpec(),
        pop3_server=Pop3ServerSpec(maildrop(), faults=FaultPlan(every_fifth)),
        timeout_ms=3000,
        trace_memory=True,
    )
