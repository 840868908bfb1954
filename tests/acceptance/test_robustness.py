"""Device robustness: DEV-ROB-1 (malformed servers), POP-WIRE-3 (replies split across segments)
and DEV-ROB-2 (no leaks over a long run)."""
from __future__ import annotations

import pytest

import workloads as wl
from bench.servers.faults import FaultRule
from bench.workload.model import Pop3Op

RETR1 = Pop3Op("retr", 1)
STAT = Pop3Op("stat")
MALFORMED = {
    "overlong-line": (FaultRule("STAT", "overlong", size=4096), STAT),
    "missing-crlf": (FaultRule("STAT", "no_crlf"), STAT),
    "no-multiline-terminator": (FaultRule("RETR", "no_terminator"), RETR1),
    "non-numeric-count": (FaultRule("STAT", "reply", line="+OK many lots"), STAT),
    "wrong-code": (FaultRule("STAT", "malformed"), STAT),
    "stall-past-timeout": (FaultRule("RETR", "stall"), RETR1),
    "reset-mid-transfer": (FaultRule("RETR", "reset", size=40), RETR1),
    "close-mid-transfer": (FaultRule("RETR", "close", size=40), RETR1),
    "greeting-refused": (FaultRule("connect", "refuse"), STAT),
    "greeting-garbage": (FaultRule("greeting", "malformed"), STAT),
}


@pytest.mark.criterion("DEV-ROB-1")
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_pop3_server(bench, name: str) -> None:
    rule, op = MALFORMED[name]
    bench.check(wl.pop3_fault(name, rule, op))


@pytest.mark.criterion("POP-WIRE-3", "POP-AUTH-1", "POP-TRANS-1", "POP-TRANS-2", "POP-TRANS-3", "POP-TRANS-4",
                       "POP-WIRE-1")
def test_pop3_replies_split_byte_by_byte(bench) -> None:
    bench.check(wl.pop3_split())


@pytest.mark.criterion("POP-WIRE-3", "POP-AUTH-2", "POP-AUTH-1", "POP-TRANS-4")
def test_apop_greeting_split_byte_by_byte(bench) -> None:
    bench.check(wl.pop3_split_apop())


MALFORMED_SMTP = {
    "overlong-reply-line": FaultRule("MAIL", "overlong", size=4096),
    "overlong-ehlo-line": FaultRule("EHLO", "overlong", size=4096),
    "missing-crlf": FaultRule("MAIL", "no_crlf"),
    "unterminated-ehlo-reply": FaultRule("EHLO", "no_terminator"),
    "wrong-code": FaultRule("RCPT", "malformed"),
    "greeting-garbage": FaultRule("greeting", "malformed"),
    "reset-mid-reply": FaultRule("EHLO", "reset", size=20),
    "stall-after-data": FaultRule("message", "stall"),
    "stall-at-rcpt": FaultRule("RCPT", "stall"),
    "reset-mid-data": FaultRule("body", "reset"),
}


@pytest.mark.criterion("DEV-ROB-1")
@pytest.mark.parametrize("name", sorted(MALFORMED_SMTP))
def test_malformed_smtp_server(bench, name: str) -> None:
    bench.check(wl.smtp_fault(name, MALFORMED_SMTP[name]))


@pytest.mark.criterion("SMTP-EHLO-1", "SMTP-MAIL-1", "SMTP-CONN-1")
def test_smtp_replies_split_byte_by_byte(bench) -> None:
    """Every SMTP reply one octet per segment: not malformed input (DEV-ROB-1) but replies
    parsed however split (SMTP-EHLO-1), so the whole session must succeed (SMTP-MAIL-1)."""
    bench.check(wl.smtp_fault("split-1", FaultRule("*", "split", size=1), expect="ok"))


@pytest.mark.criterion("DEV-ROB-2")
def test_soak_memory_returns_to_baseline(bench) -> None:
    bench.check(wl.soak(rounds=100))
