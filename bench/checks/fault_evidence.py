"""No verdict about a fault without proof that the fault happened (issue 15).

A robustness or error-path verdict says "the device handled the fault". That is
only worth something if the fault really happened: the workload's fault rule
fired (its hit is in the server's transcript), the command it targets went on
the wire (the capture's client stream holds it), and the server's side of the
wire shows what the action's name says: a split in the chunks the rule names,
every octet written, an over-long line of its length, no CRLF, no terminator,
the FIN or RST, nothing after a stall. Otherwise a device that never
sent the targeted command (NetX Duo refusing RETR locally, say) passes because
"an error was reported". :func:`guarded` wraps the checks of the criteria in
:data:`FAULT_CRITERIA`: a verdict that would PASS becomes INCONCLUSIVE, saying
what never happened. A FAIL stays a FAIL.
"""
from __future__ import annotations

from collections.abc import Callable

from bench.capture.tcpflow import Connection
from bench.checks.context import CheckContext
from bench.checks.verdict import Evidence, Outcome, Verdict
from bench.servers.faults import PSEUDO_EVENTS, FaultRule, as_plan
from bench.servers.transcript import FaultHit, Session, Transcript
from bench.servers.transcript import redact as _redact

Check = Callable[[CheckContext], list[Verdict]]

#: criteria whose verdict is about how the device met a fault the servers played
FAULT_CRITERIA = frozenset({
    "DEV-ROB-1", "DEV-ROB-2", "SMTP-ERR-1", "SMTP-AUTH-3", "SMTP-EHLO-1", "SMTP-EHLO-2",
    "POP-AUTH-3", "POP-AUTH-5", "POP-TRANS-5", "POP-WIRE-3",
})
PROTOCOLS = ("smtp", "pop3")
_REDACTED = _redact("x").encode()


def _never_fired(protocol: str, index: int, rule: FaultRule, transcript: Transcript) -> str:
    """Why rule ``index`` has no hit: what the device never did."""
    sessions = transcript.sessions
    head = f"{protocol} fault rule {index + 1} ({rule.describe()}) never fired"
    if rule.step is not None:
        head += f" (it waits for step {rule.step})"
    if rule.event in ("connect", "greeting"):
        return f"{head}: the device never connected" if not sessions else f"{head}: its count was never reached"
    if rule.event in PSEUDO_EVENTS:
        return f"{head}: no {rule.event} event in {len(sessions)} session(s)"
    sent = [c for s in sessions for c in _commands(s, rule.event)]
    if rule.arg is not None:
        sent = [c for c in sent if c.split(b" ", 1)[1:2] and c.split(b" ", 1)[1].strip().lower()
                == rule.arg.strip().lower().encode()]
    what = f"{rule.event} {rule.arg}" if rule.arg is not None else rule.event
    if not sent:
        return f"{head}: the device never sent {what}"
    return f"{head}: {what} was sent {len(sent)} time(s), the rule waits for its #{rule.nth} in the {rule.scope}"


def _commands(session: Session, verb: str) -> list[bytes]:
    out = []
    for ln in session.lines:
        if ln.direction == "c>s" and ln.data.split(b" ", 1)[0].rstrip(b"\r\n").upper() == verb.encode():
            out.append(ln.data.rstrip(b"\r\n"))
    return out


def _connection(ctx: CheckContext, protocol: str, transcript: Transcript, hit: FaultHit) -> Connection | None:
    """The captured connection of the hit's session: the same place among the server's connections."""
    conns = ctx.connections_to(protocol)
    ids = [s.id for s in transcript.sessions]
    if len(conns) == len(ids) and hit.session in ids:
        return conns[ids.index(hit.session)]
    return None


def _on_wire(ctx: CheckContext, protocol: str, transcript: Transcript, hit: FaultHit) -> list[Evidence]:
    """What of this hit the capture does not show (empty: all of it is there)."""
    conns = ctx.connections_to(protocol)
    conn = _connection(ctx, protocol, transcript, hit)
    where = f"{protocol} session {hit.session}"
    if not conns:
        return [Evidence("pcap", where, f"{hit.describe()}, but no {protocol} connection is in the capture",
                         ctx.run.pcap)]
    needle = hit.command.split(_REDACTED, 1)[0] if hit.event not in PSEUDO_EVENTS else b""
    if hit.event == "message":
        needle = b"\r\n.\r\n"
    elif hit.event == "auth-reply":  # the SASL line itself is a secret: its AUTH command stands for it
        needle = b"AUTH "
    candidates = [conn] if conn is not None else conns
    if needle and not any(needle in c.c2s.stream for c in candidates):
        shown = needle.strip()
        return [Evidence("pcap", where, f"{hit.describe()}, but {shown!r} is not in the client's stream "
                         "on the wire", ctx.run.pcap)]
    if conn is None or not conn.syn_seen or conn.s2c.gaps:
        return []  # the capture cannot place the reply in the stream; the wire checks say why
    return [Evidence("pcap", f"packet {', '.join(map(str, packets[:8]))}" if packets else where,
                     f"{hit.describe()}: {why}", ctx.run.pcap, packets)
            for why, packets in _shape(protocol, conn, hit)]


def _shape(protocol: str, conn: Connection, hit: FaultHit) -> list[tuple[str, tuple[int, ...]]]:
    """How the server's side of the wire departs from what the hit's action promises."""
    d = conn.s2c
    end = hit.offset + hit.octets
    client_left = conn.c2s.fin or conn.c2s.rst  # a client that gave up mid-reply cuts it short
    chunks = d.chunks_between(hit.offset, min(end, len(d.stream)))
    packets = tuple(p for p, _ in chunks)
    out: list[tuple[str, tuple[int, ...]]] = []
    if len(d.stream) < end and not client_left:
        out.append((f"only {max(0, len(d.stream) - hit.offset)} of its {hit.octets} octets reached the wire", packets))
    got = d.stream[hit.offset:end]
    a = hit.action
    if a == "split" and len(d.stream) >= end and hit.octets > 1:
        sizes = [n for _, n in chunks]
        if sizes != [min(hit.size, hit.octets - k) for k in range(0, hit.octets, hit.size)]:
            out.append((f"its {hit.octets} octets crossed the wire in segments of {sizes[:12]} octets, "
                        f"not {hit.size} each: the split did not happen on the wire", packets))
    elif a == "overlong":
        cr = d.stream.find(b"\r\n", hit.offset)
        if 0 <= cr < hit.offset + hit.size - 2:
            out.append((f"its first line is {cr + 2 - hit.offset} octets on the wire, not {hit.size}", packets))
    elif a == "no_crlf" and got.endswith(b"\r\n"):
        out.append(("the reply ends in CRLF on the wire", packets))
    elif a == "no_terminator" and _terminated(protocol, got):
        out.append(("the reply is terminated on the wire", packets))
    elif a in ("close", "refuse") and not d.fin:
        out.append(("no FIN from the server on the wire", ()))
    elif a == "reset" and not d.rst:
        out.append(("no RST from the server on the wire", ()))
    elif a == "stall" and len(d.stream) > hit.offset:
        out.append((f"the server sent {len(d.stream) - hit.offset} octets after the stall began",
                    tuple(p for p, _ in d.chunks_between(hit.offset, len(d.stream)))))
    return out


def _terminated(protocol: str, reply: bytes) -> bool:
    if protocol == "pop3":
        return reply.endswith(b"\r\n.\r\n")
    last = reply.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
    return len(last) == 3 or last[3:4] == b" "


def missing(ctx: CheckContext) -> list[Evidence]:
    """Everything the workload's fault plans promised that the evidence does not show."""
    out: list[Evidence] = []
    wire = ctx.run.pcap is not None and ctx.run.pcap.exists()
    for protocol in PROTOCOLS:
        spec = getattr(ctx.run.workload, f"{protocol}_server")
        plan = as_plan(spec.faults if spec is not None else None, protocol)
        if not plan:
            continue
        transcript: Transcript | None = getattr(ctx.run, protocol)
        if transcript is None:
            out.append(Evidence("transcript", protocol, f"the {protocol} server left no transcript: "
                                "nothing shows its fault plan fired"))
            continue
        for i, rule in enumerate(plan.rules):
            if not transcript.fired(i):
                out.append(Evidence("transcript", f"{protocol} fault rule {i + 1}",
                                    _never_fired(protocol, i, rule, transcript), ctx.transcript_path(protocol)))
        if wire:
            for hit in transcript.hits:
                out += _on_wire(ctx, protocol, transcript, hit)
    return out


def _inconclusive(v: Verdict, gaps: list[Evidence]) -> Verdict:
    shown = "; ".join(e.excerpt for e in gaps[:3]) + (f"; and {len(gaps) - 3} more" if len(gaps) > 3 else "")
    return Verdict(v.criterion, Outcome.INCONCLUSIVE, f"the fault did not happen as planned: {shown}",
                   tuple(gaps) + v.evidence, v.measurements, v.subject)


def guard(criterion: str, check: Check) -> Check:
    """``check``, with its PASS verdicts made INCONCLUSIVE when the fault is not proven."""

    def guarded_check(ctx: CheckContext) -> list[Verdict]:
        verdicts = check(ctx)
        if not any(v.passed for v in verdicts):
            return verdicts
        gaps = missing(ctx)
        return [(_inconclusive(v, gaps) if v.passed else v) for v in verdicts] if gaps else verdicts

    guarded_check.__doc__ = check.__doc__
    return guarded_check


def guarded(checks: dict[str, Check]) -> dict[str, Check]:
    """The catalogue's checks, each fault criterion's behind :func:`guard`."""
    return {c: (guard(c, f) if c in FAULT_CRITERIA else f) for c, f in checks.items()}
