"""POP3 criteria judged from the server transcript, the device's answers and,
for APOP, the greeting and digest as they crossed the wire."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bench.capture.dialogue import pop3_dialogue
from bench.capture.tcpflow import StreamLine
from bench.checks.closing import close_failures
from bench.checks.context import CheckContext, server_reply
from bench.checks.device import expectation_failures, op_evidence
from bench.checks.octets import octet_diff
from bench.checks.verdict import Evidence, Measurement, Verdict, inconclusive, judge
from bench.servers.transcript import Session, TranscriptLine
from bench.workload.evidence import StepResult, digest_matches, retr_bytes, retr_digest
from bench.workload.model import Pop3Op, Pop3Open

_TRANSACTION = {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"}
_TIMESTAMP = re.compile(rb"<[^<>]*>")


@dataclass
class Pop3Run:
    """One device POP3 session: the steps that drove it and what the server recorded."""

    session: Session
    open: StepResult
    ops: list[StepResult]
    index: int  # 0-based position among the run's POP3 sessions


def pop3_runs(ctx: CheckContext) -> list[Pop3Run]:
    sessions = ctx.sessions("pop3")
    runs: list[Pop3Run] = []
    for sr in ctx.run.steps:
        if isinstance(sr.step, Pop3Open):
            if len(runs) < len(sessions):
                runs.append(Pop3Run(sessions[len(runs)], sr, [], len(runs)))
        elif isinstance(sr.step, Pop3Op) and runs:
            runs[-1].ops.append(sr)
    return runs


def _client(session: Session) -> list[TranscriptLine]:
    return [ln for ln in session.lines if ln.direction == "c>s"]


def _verb(line: TranscriptLine) -> str:
    return line.data.split(b" ", 1)[0].strip().upper().decode("latin-1")


def _each(criterion: str, ctx: CheckContext, one, ok: str, bad: str, only_refused: bool = False) -> list[Verdict]:  # type: ignore[no-untyped-def]
    runs = [r for r in pop3_runs(ctx) if not only_refused or r.open.step.expect == "err"]
    if not runs:
        return [inconclusive(criterion, "the POP3 server saw no session")]
    out = []
    for run in runs:
        failures, support, measurements = one(run)
        out.append(judge(criterion, failures, ok=ok, bad=bad, support=tuple(support), measurements=tuple(measurements),
                         subject=f"pop3 session {run.session.id} from {run.session.peer}"))
    return out


def pop_conn_1(ctx: CheckContext) -> list[Verdict]:
    want6 = ctx.run.workload.family == 6

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        failures = expectation_failures(ctx, [run.open])
        peer_is6 = ":" in run.session.peer.rsplit(":", 1)[0]
        if peer_is6 != want6:
            failures.append(Evidence("transcript", f"session {run.session.id}", f"peer {run.session.peer} is not IPv{ctx.run.workload.family}"))
        return failures, [op_evidence(ctx, run.open.final)], []

    return _each("POP-CONN-1", ctx, one, f"connected to the configured port over IPv{ctx.run.workload.family}", "connection wrong")


def pop_auth_1(ctx: CheckContext) -> list[Verdict]:
    """Only USER then PASS, or APOP, before authentication; no transaction command before success."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        failures: list[Evidence] = []
        authed = False
        expect_pass = False
        for ln in _client(run.session):
            verb = _verb(ln)
            reply = server_reply(run.session, ln)
            good = reply is not None and reply.data.startswith(b"+OK")
            if authed:
                break
            if verb in _TRANSACTION:
                failures.append(ctx.line_evidence("pop3", run.session, ln, "transaction command before authentication"))
            elif verb == "PASS" and not expect_pass:
                failures.append(ctx.line_evidence("pop3", run.session, ln, "PASS without a preceding accepted USER"))
            elif verb not in ("USER", "PASS", "APOP", "QUIT", "CAPA"):
                failures.append(ctx.line_evidence("pop3", run.session, ln, "unexpected command in AUTHORIZATION"))
            expect_pass = verb == "USER" and good
            authed = verb in ("PASS", "APOP") and good
        return failures, [ctx.line_evidence("pop3", run.session, ln) for ln in _client(run.session)[:3]], []

    return _each("POP-AUTH-1", ctx, one, "USER/PASS or APOP only, transaction only after +OK", "authorization order broken")


def _greeting_and_apop(ctx: CheckContext, run: Pop3Run) -> tuple[bytes | None, StreamLine | None]:
    """Greeting and APOP line from the capture (the transcript redacts the digest).

    Both are cut at LF, line ends stripped: a line sent without its CR is POP-WIRE-1's
    defect, and must not turn into a wrong digest here."""
    conns = ctx.connections_to("pop3")
    if run.index >= len(conns):
        return None, None
    d = pop3_dialogue(conns[run.index])
    greeting = d.replies[0].first.body if d.replies else b""
    apop = next((u.first for u in d.units if u.verb == b"APOP"), None)
    return greeting, apop


def pop_auth_2(ctx: CheckContext) -> list[Verdict]:
    """APOP <name> <digest>, digest = lowercase hex MD5(timestamp + password)."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        step = run.open.step
        greeting, line = _greeting_and_apop(ctx, run)
        if greeting is None:
            return [Evidence("pcap", "-", "no POP3 connection in the capture", ctx.run.pcap)], [], []
        stamp = _TIMESTAMP.search(greeting)
        if stamp is None or line is None:
            return [Evidence("pcap", "-", f"no APOP sent (greeting {greeting!r})", ctx.run.pcap)], [], []
        apop, packets = line.body, line.packets
        want = hashlib.md5(stamp.group(0) + step.password.encode()).hexdigest()
        parts = apop.split(b" ")
        failures = []
        if len(parts) != 3 or parts[1].decode("latin-1") != step.user:
            failures.append(ctx.packet_evidence(packets, f"APOP line malformed: {apop[:60]!r}"))
        elif parts[2].decode("latin-1") != want:
            failures.append(ctx.packet_evidence(packets, f"digest {parts[2].decode('latin-1')} != md5({stamp.group(0).decode()} + password) = {want}"))
        framing = "" if line.crlf else " (line not ended by CRLF: POP-WIRE-1 judges that)"
        return failures, [ctx.packet_evidence(packets, f"APOP {step.user} <digest of {stamp.group(0).decode()}>{framing}")], [
            Measurement("digest", parts[2].decode("latin-1") if len(parts) == 3 else None, want, "==")
        ]

    return _each("POP-AUTH-2", ctx, one, "APOP digest is MD5(timestamp + password)", "APOP digest wrong")


def pop_auth_3(ctx: CheckContext) -> list[Verdict]:
    """APOP refused: the client falls back to USER/PASS."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        verbs = [_verb(ln) for ln in _client(run.session)]
        failures = []
        if verbs[:3] != ["APOP", "USER", "PASS"]:
            failures.append(Evidence("transcript", f"session {run.session.id}", f"commands {verbs[:4]}, expected APOP, USER, PASS", ctx.transcript_path("pop3")))
        failures += expectation_failures(ctx, [run.open])
        if run.open.final.ok and run.open.final.fields.get("auth") != "user":
            failures.append(op_evidence(ctx, run.open.final, "expected auth=user after the fallback"))
        return failures, [op_evidence(ctx, run.open.final)], []

    return _each("POP-AUTH-3", ctx, one, "fell back to USER/PASS after APOP -ERR", "no USER/PASS fallback")


def pop_auth_4(ctx: CheckContext) -> list[Verdict]:
    """APOP enabled, greeting without timestamp: no APOP with a made-up digest."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        client = _client(run.session)
        failures = [ctx.line_evidence("pop3", run.session, ln, "APOP sent without a greeting timestamp") for ln in client if _verb(ln) == "APOP"]
        op = run.open.final
        if op.ok and [_verb(ln) for ln in client[:2]] != ["USER", "PASS"]:
            failures.append(op_evidence(ctx, op, "logged in without USER/PASS"))
        if not op.ok and not op.code:
            failures.append(op_evidence(ctx, op, "error without a code"))
        return failures, [op_evidence(ctx, op)], []

    return _each("POP-AUTH-4", ctx, one, "no APOP without a timestamp; USER/PASS or a clear error", "APOP with a made-up digest")


def pop_auth_5(ctx: CheckContext) -> list[Verdict]:
    """Credentials rejected: auth error to the application, no transaction commands."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        op = run.open.final
        failures = []
        if op.ok or op.code != "auth":
            failures.append(op_evidence(ctx, op, "expected err code=auth"))
        failures += [ctx.line_evidence("pop3", run.session, ln, "transaction command after rejected login") for ln in _client(run.session) if _verb(ln) in _TRANSACTION]
        return failures, [op_evidence(ctx, op)], []

    return _each("POP-AUTH-5", ctx, one, "rejection reported as an auth error; no transaction commands", "rejected login mishandled", only_refused=True)


def _reply_to(run: Pop3Run, verb: str, arg: str = "") -> TranscriptLine | None:
    for ln in _client(run.session):
        if _verb(ln) == verb and (not arg or ln.data.rstrip(b"\r\n").split(b" ")[1:2] == [arg.encode()]):
            return server_reply(run.session, ln)
    return None


def _figures(criterion: str, ctx: CheckContext, op: str, fields: tuple[str, ...], ok: str, bad: str) -> list[Verdict]:
    """The device's figures for ``op`` (STAT, LIST n) equal the server's reply, field for field."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        failures, support, ms = [], [], []
        for sr in run.ops:
            if sr.step.op != op or not sr.final.ok:
                continue
            arg = "" if sr.step.n is None else str(sr.step.n)
            reply = _reply_to(run, op.upper(), arg)
            if reply is None:
                failures.append(op_evidence(ctx, sr.final, f"server saw no {op.upper()} {arg}".rstrip()))
                continue
            said = reply.data.split()[1 : 1 + len(fields)]
            got = [sr.final.fields.get(f, "") for f in fields]
            ms.append(Measurement(f"{op.upper()} {arg} {', '.join(fields)}".replace("  ", " "), " ".join(got), " ".join(x.decode("latin-1") for x in said), "=="))
            if [x.decode("latin-1") for x in said] != got:
                failures.append(op_evidence(ctx, sr.final, f"server said {reply.data.strip()!r}"))
            support.append(op_evidence(ctx, sr.final))
        failures += expectation_failures(ctx, [sr for sr in run.ops if sr.step.op == op])
        return failures, support, ms

    return _each(criterion, ctx, one, ok, bad)


def pop_trans_1(ctx: CheckContext) -> list[Verdict]:
    return _figures("POP-TRANS-1", ctx, "stat", ("count", "octets"), "STAT count and octets as the server stated", "STAT figures differ")


def pop_trans_2(ctx: CheckContext) -> list[Verdict]:
    return _figures("POP-TRANS-2", ctx, "list", ("n", "octets"), "LIST n sizes as the server stated, items from 1", "LIST figures differ")


def pop_trans_3(ctx: CheckContext) -> list[Verdict]:
    """RETR n: the whole message, byte for byte, dot-unstuffed, terminator excluded."""
    spec = ctx.run.workload.pop3_server

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        failures, support, ms = [], [], []
        user = run.open.step.user
        messages = spec.maildrops[user][1] if spec and user in spec.maildrops else ()
        for sr in run.ops:
            delivered = [op for op in sr.ops if op.ok]  # the digest, and the bytes when it did not match
            if sr.step.op != "retr" or not delivered:
                continue
            n = sr.step.n or 0
            want = messages[n - 1] if 0 < n <= len(messages) else b""
            first = retr_bytes(delivered[0])
            ms.append(Measurement(f"RETR {n} octets", retr_digest(delivered[0])[0] if first is None else len(first),
                                  len(want), "=="))
            for op in sorted(delivered, key=lambda o: retr_bytes(o) is None):  # a byte-level diff first
                octets, md5 = retr_digest(op)
                got = retr_bytes(op)
                if got is not None and got != want:
                    failures.append(op_evidence(ctx, op, f"RETR {n} " + octet_diff(got, want, ("got", "want"))))
                elif got is not None and not digest_matches(op, got):
                    failures.append(op_evidence(ctx, op, f"md5/octets reported do not match the {len(got)} octets delivered"))
                elif not digest_matches(op, want):
                    failures.append(op_evidence(ctx, op, f"RETR {n}: the device delivered {octets} octets (md5 {md5}), "
                                                         f"the server holds {len(want)} (md5 {hashlib.md5(want).hexdigest()})"))
                elif op.int("segments") < 1:
                    failures.append(op_evidence(ctx, op, "no final piece reported"))
            support.append(op_evidence(ctx, sr.final, f"{retr_digest(sr.final)[0]} octets (md5 {retr_digest(sr.final)[1]}) "
                                                      f"in {sr.final.fields.get('segments')} pieces"))
        failures += expectation_failures(ctx, [sr for sr in run.ops if sr.step.op == "retr"])
        return failures, support, ms

    return _each("POP-TRANS-3", ctx, one, "RETR delivered byte for byte, dot-unstuffed, terminator excluded", "RETR content wrong")


def pop_trans_4(ctx: CheckContext) -> list[Verdict]:
    """DELE, RSET, NOOP work; QUIT enters UPDATE. Who closed, and when, is judged from the
    capture (bench.checks.closing), not from the emulator's view."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        ops = [sr for sr in run.ops if sr.step.op in ("dele", "rset", "noop", "quit")]
        failures = expectation_failures(ctx, ops)
        client_verbs = [_verb(ln) for ln in _client(run.session)]
        for sr in ops:
            if sr.step.op.upper() not in client_verbs:
                failures.append(op_evidence(ctx, sr.final, f"server never saw {sr.step.op.upper()}"))
        quit_ok = any(sr.step.op == "quit" and sr.final.ok for sr in ops)
        deleted = sorted(sr.step.n for sr in ops if sr.step.op == "dele" and sr.final.ok)  # type: ignore[type-var]
        if any(sr.step.op == "rset" for sr in ops):
            deleted = sorted(sr.step.n for sr in ops if sr.step.op == "dele" and sr.final.ok and sr.final.t_start > max(r.final.t_start for r in ops if r.step.op == "rset"))  # type: ignore[type-var]
        if quit_ok and sorted(run.session.deleted) != deleted:
            failures.append(Evidence("transcript", f"session {run.session.id}", f"server deleted {run.session.deleted}, expected {deleted}", ctx.transcript_path("pop3")))
        return failures, [op_evidence(ctx, sr.final) for sr in ops], [Measurement("items deleted at UPDATE", len(run.session.deleted), len(deleted), "==")]

    return _each("POP-TRANS-4", ctx, one, "DELE/RSET/NOOP worked; QUIT updated and the client closed", "DELE/RSET/NOOP/QUIT wrong")


def pop_trans_5(ctx: CheckContext) -> list[Verdict]:
    """-ERR reported as an error; the session stays usable or is closed cleanly."""

    def one(run: Pop3Run):  # type: ignore[no-untyped-def]
        steps = [run.open, *run.ops]
        failures = expectation_failures(ctx, steps)
        for sr in steps:
            if sr.step.expect == "err" and not sr.final.ok and sr.final.fields.get("reply") not in ("-ERR", None, ""):
                failures.append(op_evidence(ctx, sr.final, "expected reply=-ERR"))
        errs = [i for i, sr in enumerate(steps) if sr.step.expect == "err"]
        if errs and errs[-1] + 1 < len(steps):
            after = steps[errs[-1] + 1 :]
            conn = ctx.connection_of("pop3", run.index)
            if not any(sr.final.ok for sr in after):  # not usable: it must be closed cleanly, by the client
                if conn is not None:
                    failures += close_failures(conn, "pop3", ctx.run.pcap)[0]
                elif run.session.ended is None:
                    failures.append(Evidence("transcript", f"session {run.session.id}", "session neither usable nor closed after -ERR"))
        return failures, [op_evidence(ctx, sr.final) for sr in steps], []

    return _each("POP-TRANS-5", ctx, one, "-ERR reported; session usable or closed cleanly", "-ERR mishandled")
