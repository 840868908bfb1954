"""SMTP client acceptance: REQUIREMENTS.md "SMTP client" and the wire criteria."""
from __future__ import annotations

import pytest

import workloads as wl
from bench.servers.faults import FaultRule


@pytest.mark.criterion(*wl.ONE_MAIL)
@pytest.mark.parametrize("family", [4, 6])
def test_one_mail_with_dotted_body(bench, family: int) -> None:
    bench.check(wl.one_mail(family))


@pytest.mark.criterion("SMTP-CONN-1", "SMTP-MAIL-1", "SMTP-MAIL-2", *wl.WIRE)
@pytest.mark.parametrize("family", [4, 6])
def test_one_connection_per_mail(bench, family: int) -> None:
    bench.check(wl.two_mails(family))


@pytest.mark.criterion("SMTP-MAIL-2", "SMTP-MAIL-3", "SMTP-WIRE-1", *wl.WIRE)
def test_large_body_split_across_segments(bench) -> None:
    bench.check(wl.large_mail())


@pytest.mark.criterion("SMTP-MAIL-1", "SMTP-MAIL-2", *wl.SMTP_WIRE)
def test_long_header_values_and_unterminated_body(bench) -> None:
    bench.check(wl.header_values())


@pytest.mark.criterion("SMTP-EHLO-1", "SMTP-MAIL-1")
def test_ehlo_reply_split_byte_by_byte(bench) -> None:
    bench.check(wl.ehlo_split())


@pytest.mark.criterion("SMTP-EHLO-1", "SMTP-AUTH-2", "SMTP-MAIL-1")
def test_ehlo_split_advertising_login_only(bench) -> None:
    bench.check(wl.ehlo_split_login_only())


@pytest.mark.criterion("SMTP-EHLO-2", "SMTP-MAIL-1")
@pytest.mark.parametrize("code", [500, 502])
def test_helo_fallback(bench, code: int) -> None:
    bench.check(wl.ehlo_refused(code))


@pytest.mark.parametrize("mechanism", [
    pytest.param("plain", marks=pytest.mark.criterion("SMTP-AUTH-1", "SMTP-MAIL-1")),
    pytest.param("login", marks=pytest.mark.criterion("SMTP-AUTH-2", "SMTP-MAIL-1")),
])
def test_auth(bench, mechanism: str) -> None:
    bench.check(wl.auth(mechanism))


@pytest.mark.criterion("SMTP-AUTH-3")
@pytest.mark.parametrize("mechanism", sorted(wl.SASL_ANSWERS))
def test_auth_refused(bench, mechanism: str) -> None:
    bench.check(wl.auth_refused(mechanism))


@pytest.mark.criterion("SMTP-AUTH-4", "SMTP-MAIL-1")
@pytest.mark.parametrize("configured", ["plain", "login", "none"])
def test_no_auth_advertised(bench, configured: str) -> None:
    bench.check(wl.no_auth_advertised(configured))


@pytest.mark.criterion("SMTP-AUTH-4", "SMTP-AUTH-2")
def test_cram_md5_never_used(bench) -> None:
    bench.check(wl.cram_md5_offered())


ERRORS = [
    ("MAIL", "mail", FaultRule("MAIL", "reply", line="451 4.3.0 Try again later", nth=1, scope="server")),
    ("RCPT", "rcpt", FaultRule("RCPT", "reply", line="550 5.1.1 No such user", nth=1, scope="server")),
    ("DATA", "data", FaultRule("DATA", "reply", line="554 5.5.0 No valid recipients", nth=1, scope="server")),
    ("message", "message", FaultRule("message", "reply", line="552 5.3.4 Message too big", nth=1, scope="server")),
    ("greeting", "greeting", FaultRule("greeting", "reply", line="421 4.3.2 Service not available", nth=1, scope="server")),
    ("RCPT", "rcpt", FaultRule("RCPT", "close", nth=1, scope="server")),
]


@pytest.mark.criterion("SMTP-ERR-1", "DEV-ROB-1", "NET-WIRE-2")
@pytest.mark.parametrize("event,stage,rule", ERRORS, ids=[f"{e[1]}-{e[2].action}" for e in ERRORS])
def test_error_names_stage_and_next_send_works(bench, event: str, stage: str, rule: FaultRule) -> None:
    bench.check(wl.smtp_error(event, stage, rule))
