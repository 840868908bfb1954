"""The suite's boundary workloads hold what their tests count on: a user name whose USER
command is exactly the declared POP3 payload and one octet more; STAT/LIST figures past
16 and 31 bits; SMTP header values longer than small fixed buffers and a body without a
final CRLF. A workload that drifted off its boundary would let the defects through."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.servers.faults import FaultRule
from bench.workload.model import Pop3Open, SendMail

sys.path.insert(0, str(Path(__file__).parents[1] / "acceptance"))
import workloads as wl  # noqa: E402


@pytest.mark.parametrize("payload", [100, 120])
def test_user_commands_are_the_payload_and_one_octet_more(payload: int) -> None:
    w = wl.pop3_long_user(payload)
    opens = [s for s in w.steps if isinstance(s, Pop3Open)]
    assert [len(f"USER {o.user}\r\n") for o in opens] == [payload, payload + 1]
    assert [o.expect for o in opens] == ["ok", "err"]
    assert w.pop3_server is not None
    assert opens[0].user in w.pop3_server.maildrops and opens[1].user not in w.pop3_server.maildrops


def test_large_figures_pass_16_and_31_bits() -> None:
    w = wl.pop3_large_figures()
    rules: list[FaultRule] = list(w.pop3_server.faults.rules)  # type: ignore[union-attr]
    stat = next(r for r in rules if r.match == "STAT").line.split()
    lst = next(r for r in rules if r.match == "LIST").line.split()
    assert int(stat[1]) > 0xFFFF and int(stat[2]) > 0x7FFFFFFF and int(lst[2]) > 0x7FFFFFFF
    assert int(stat[2]) <= 0xFFFFFFFF  # within the 32 bits NetX's figures have


def test_header_values_pass_small_buffers_and_the_body_lacks_its_final_crlf() -> None:
    (send,) = wl.header_values().steps
    assert isinstance(send, SendMail)
    assert len(send.mail.subject) == 250 and "  " not in send.mail.subject  # unfolding keeps it whole
    assert len(f"Subject: {send.mail.subject}\r\n") <= 998
    assert len(send.mail.to) > 64
    assert not send.mail.body.endswith(b"\r\n")


@pytest.mark.parametrize("mechanism", sorted(wl.SASL_ANSWERS))
def test_auth_is_refused_at_the_mechanisms_last_answer(mechanism: str) -> None:
    """LOGIN sends the user name, then the password: the 535 must answer the password."""
    w = wl.auth_refused(mechanism)
    (rule,) = w.smtp_server.faults.rules  # type: ignore[union-attr]
    assert rule.match == "auth-reply" and rule.nth == {"plain": 1, "login": 2}[mechanism]
    assert all(isinstance(s, SendMail) and s.auth == mechanism for s in w.steps)


def test_the_apop_split_workload_splits_the_greeting_of_an_apop_login() -> None:
    w = wl.pop3_split_apop()
    assert isinstance(w.steps[0], Pop3Open) and w.steps[0].apop
    (rule,) = w.pop3_server.faults.rules  # type: ignore[union-attr]
    assert rule.match == "*" and rule.action == "split" and rule.size == 1
