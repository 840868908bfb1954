"""POP-WIRE-3: replies are parsed however the server splits them across TCP segments.

Judged per POP3 session from two kinds of evidence. The capture shows how each
reply was cut into segments: that is the proof the split happened (a fault plan
whose writes TCP coalesced tested nothing, and the verdict says so). The reply
as the server sent it gives the result a parse of the whole reply yields; the
device's answer to that step must be that result. A greeting, single-line and
multi-line replies are told apart, and each kind the session had must have been
split on the wire before the verdict can pass.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bench.capture.dialogue import POP3_MULTILINE, POP3_MULTILINE_NOARG, Dialogue, Reply, Unit, pop3_dialogue
from bench.capture.tcpflow import Connection, Direction
from bench.checks.context import CheckContext
from bench.checks.device import op_evidence
from bench.checks.packets import packet_evidence
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict, inconclusive
from bench.workload.evidence import StepResult
from bench.workload.model import Pop3Op, Pop3Open

CRITERION = "POP-WIRE-3"
KINDS = ("greeting", "single-line", "multi-line")
_AUTH = frozenset({b"USER", b"PASS", b"APOP"})
_LINE_START_DOT = re.compile(rb"(^|\n)\.")


@dataclass(frozen=True)
class ReplyShape:
    """How one server reply travelled: the frames that carried it, with their octets of it."""

    kind: str  # one of KINDS
    reply: Reply
    chunks: tuple[tuple[int, int], ...]  # (frame, octets of this reply in it)

    @property
    def packets(self) -> tuple[int, ...]:
        return tuple(p for p, _ in self.chunks)

    @property
    def split(self) -> bool:
        return len(self.chunks) > 1

    @property
    def octet_per_segment(self) -> bool:
        return self.split and all(n == 1 for _, n in self.chunks)

    def describe(self) -> str:
        sizes = [n for _, n in self.chunks]
        if not self.split:
            return f"{self.kind} reply {self.reply.first.body[:40]!r} in one segment ({sum(sizes)} octets)"
        how = ("one octet each" if self.octet_per_segment
               else f"{min(sizes, default=0)} to {max(sizes, default=0)} octets each")
        return f"{self.kind} reply {self.reply.first.body[:40]!r} in {len(sizes)} segments, {how}"


def reply_shape(direction: Direction, reply: Reply, kind: str) -> ReplyShape:
    return ReplyShape(kind, reply, tuple(direction.chunks_between(reply.start, reply.end)))


def _is_multiline(unit: Unit, reply: Reply) -> bool:
    return reply.code == b"+OK" and (
        unit.verb in POP3_MULTILINE or (unit.verb in POP3_MULTILINE_NOARG and not unit.argument))


def pop3_groups(ctx: CheckContext) -> list[tuple[StepResult, list[StepResult], Connection | None]]:
    """Each Pop3Open step with the operations that followed it and its connection (in order)."""
    conns = ctx.connections_to("pop3")
    groups: list[tuple[StepResult, list[StepResult], Connection | None]] = []
    for sr in ctx.run.steps:
        if isinstance(sr.step, Pop3Open):
            groups.append((sr, [], conns[len(groups)] if len(groups) < len(conns) else None))
        elif isinstance(sr.step, Pop3Op) and groups:
            groups[-1][1].append(sr)
    return groups


def _whole_reply_body(conn: Connection, reply: Reply) -> bytes:
    """A multi-line reply's content as a parse of the whole reply gives it: unstuffed, no terminator."""
    body = conn.s2c.stream[reply.first.end:reply.end - 3 if reply.complete else reply.end]
    return _LINE_START_DOT.sub(rb"\1", body)


@dataclass
class _Judging:
    ctx: CheckContext
    conn: Connection
    dialogue: Dialogue
    failures: list[Evidence]

    def fail(self, reply: Reply | None, sr: StepResult, why: str) -> None:
        packets = self.conn.s2c.packets_between(reply.start, reply.end) if reply else ()
        if packets:
            self.failures.append(packet_evidence(packets, why, self.ctx.run.pcap))
        self.failures.append(op_evidence(self.ctx, sr.final, why))

    def open(self, sr: StepResult) -> None:
        d = self.dialogue
        greeting = d.replies[0] if d.replies else None
        if greeting is None:
            return
        auth = [k for k, u in enumerate(d.units) if u.verb in _AUTH]
        if greeting.complete and greeting.code == b"+OK" and (not d.units or d.units[0].verb not in _AUTH):
            self.fail(greeting, sr, "greeting +OK arrived but the device sent no USER/APOP after it")
            return
        last = d.reply_to(auth[-1]) if auth else None
        if last is not None and last.complete and sr.final.ok != (last.code == b"+OK"):
            self.fail(last, sr, f"server's login reply {last.first.body[:40]!r}, device reported "
                                f"{'ok' if sr.final.ok else 'an error'}")

    def op(self, sr: StepResult, k: int | None) -> None:
        step = sr.step
        assert isinstance(step, Pop3Op)
        reply = self.dialogue.reply_to(k) if k is not None else None
        if reply is None or not reply.complete:
            if step.expect == "ok" and not sr.final.ok:
                self.fail(reply, sr, f"device reported an error; no complete reply to {step.op.upper()} on the wire")
            return
        said = reply.first.body.split()
        want_ok = reply.code == b"+OK"
        if sr.final.ok != want_ok:
            self.fail(reply, sr, f"server said {reply.first.body[:40]!r}, device reported "
                                 f"{'ok' if sr.final.ok else 'an error'}")
            return
        if not want_ok:
            return
        fields = {"stat": ("count", "octets"), "list": ("n", "octets")}.get(step.op)
        if fields:
            want = [w.decode("latin-1") for w in said[1:1 + len(fields)]]
            got = [sr.final.fields.get(f, "") for f in fields]
            if got != want:
                self.fail(reply, sr, f"server said {reply.first.body[:40]!r}, device reported "
                                     f"{dict(zip(fields, got))}")
        elif step.op == "retr":
            body = _whole_reply_body(self.conn, reply)
            data = sr.final.data
            got_md5 = hashlib.md5(data).hexdigest() if data else sr.final.fields.get("md5", "")
            got_len = len(data) if data else int(sr.final.fields.get("octets", "-1") or -1)
            if got_md5 != hashlib.md5(body).hexdigest() or got_len != len(body):
                self.fail(reply, sr, f"the whole reply holds {len(body)} octets (md5 "
                                     f"{hashlib.md5(body).hexdigest()}), device delivered {got_len} (md5 {got_md5})")


def _unit_for(d: Dialogue, step: Pop3Op, start: int) -> int | None:
    """The first command at or after ``start`` that carries ``step`` on the wire."""
    verb = step.op.upper().encode()
    for k in range(start, len(d.units)):
        u = d.units[k]
        if u.verb == verb and (step.n is None or u.argument.strip() == str(step.n).encode()):
            return k
    return None


def _judge_session(ctx: CheckContext, open_sr: StepResult, ops: list[StepResult], conn: Connection) -> Verdict:
    d = pop3_dialogue(conn)
    j = _Judging(ctx, conn, d, [])
    shapes = [reply_shape(conn.s2c, d.replies[0], "greeting")] if d.replies else []
    for k, unit in enumerate(d.units):
        reply = d.reply_to(k)
        if reply is not None:
            shapes.append(reply_shape(conn.s2c, reply, "multi-line" if _is_multiline(unit, reply) else "single-line"))
    j.open(open_sr)
    pos = 0
    for sr in ops:
        step = sr.step
        assert isinstance(step, Pop3Op)
        if step.op == "abort":
            continue
        k = _unit_for(d, step, pos)
        if k is not None:
            pos = k + 1
        j.op(sr, k)
    split = [s for s in shapes if s.split]
    present = [kind for kind in KINDS if any(s.kind == kind for s in shapes)]
    unsplit = [kind for kind in present if not any(s.kind == kind for s in split)]
    measurements = (
        Measurement("replies split across segments", len(split), None),
        Measurement("replies split one octet per segment", sum(s.octet_per_segment for s in split), None),
        Measurement("kinds never split", ", ".join(unsplit) or "none", None),
    )
    first_of_kind = [next(s for s in split if s.kind == kind) for kind in KINDS if kind not in unsplit
                     and kind in present]
    support = tuple(packet_evidence(s.packets, s.describe(), ctx.run.pcap) for s in first_of_kind)
    if j.failures:
        return Verdict(CRITERION, Outcome.FAIL, "a reply split across segments was parsed differently "
                       "from the whole reply", tuple(j.failures), measurements, conn.subject)
    # the replies of each kind never split, as they travelled: what shows the fault did not happen
    whole = tuple(packet_evidence(s.packets, s.describe(), ctx.run.pcap)
                  for s in (next(x for x in shapes if x.kind == kind) for kind in unsplit))
    if not split:
        return Verdict(CRITERION, Outcome.INCONCLUSIVE,
                       "no reply was split across segments on the wire (the fault plan did not happen, "
                       "or TCP coalesced its writes)", whole, measurements, conn.subject)
    if unsplit:
        return Verdict(CRITERION, Outcome.INCONCLUSIVE,
                       f"never split on the wire: {', '.join(unsplit)} reply; nothing shows it parsed split",
                       whole + support, measurements, conn.subject)
    return Verdict(CRITERION, Outcome.PASS,
                   f"{len(split)} replies split across segments ({', '.join(present)}) gave the results "
                   "of the whole replies", support, measurements, conn.subject)


def pop_wire_3(ctx: CheckContext) -> list[Verdict]:
    if ctx.run.pcap is None:
        return [inconclusive(CRITERION, "this run has no capture: nothing shows how replies were split")]
    groups = pop3_groups(ctx)
    if not groups:
        return [inconclusive(CRITERION, "no POP3 session in this workload")]
    out = []
    for open_sr, ops, conn in groups:
        if conn is None:
            out.append(inconclusive(CRITERION, "this POP3 session's connection is not in the capture",
                                    f"pop3 open {open_sr.final.describe()}"))
        else:
            out.append(_judge_session(ctx, open_sr, ops, conn))
    return out
