"""How verdicts on a run against a real server are adjusted (bench.checks.real_servers)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bench.checks.closing import LEFT_FOR_SERVER
from bench.checks.real_servers import NO_CAPTURE, SERVER_CLOSED, judged_on_real_servers
from bench.checks.verdict import Evidence, Outcome, Verdict
from bench.servers.transcript import Transcript


def _ctx(source: str, pcap: Path | None):  # type: ignore[no-untyped-def]
    run = SimpleNamespace(smtp=Transcript("s", source=source), pop3=None, pcap=pcap)
    return SimpleNamespace(run=run)


def _fail(*excerpts: str) -> Verdict:
    return Verdict("SMTP-MAIL-1", Outcome.FAIL, "bad", tuple(Evidence("pcap", "packet 9", e) for e in excerpts))


def _judge(verdict: Verdict, ctx) -> Verdict:  # type: ignore[no-untyped-def]
    (got,) = judged_on_real_servers({"SMTP-MAIL-1": lambda c: [verdict]})["SMTP-MAIL-1"](ctx)
    return got


def test_a_prompt_server_close_is_inconclusive_only_against_a_real_server(tmp_path: Path) -> None:
    pcap = tmp_path / "w.pcap"
    pcap.write_bytes(b"")
    prompt = _fail(f"{LEFT_FOR_SERVER}: server FIN at packet 9 came first, 0.001 s after the reply to QUIT")
    got = _judge(prompt, _ctx("wire", pcap))
    assert got.outcome is Outcome.INCONCLUSIVE and got.summary.startswith(SERVER_CLOSED)
    assert _judge(prompt, _ctx("emulator", pcap)).outcome is Outcome.FAIL
    late = _fail(f"{LEFT_FOR_SERVER}: server FIN at packet 9 came first, 4.000 s after the reply to QUIT")
    assert _judge(late, _ctx("wire", pcap)).outcome is Outcome.FAIL  # the client lingered: still its fault
    assert _judge(_fail(prompt.evidence[0].excerpt, "MAIL before EHLO"), _ctx("wire", pcap)).outcome is Outcome.FAIL


def test_without_a_capture_a_fail_is_inconclusive() -> None:
    got = _judge(_fail("server saw no RETR 1"), _ctx("wire", None))
    assert got.outcome is Outcome.INCONCLUSIVE and got.summary.startswith(NO_CAPTURE)
