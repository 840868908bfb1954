"""POP3 client acceptance: REQUIREMENTS.md "POP3 client" and the wire criteria."""
from __future__ import annotations

import pytest

import workloads as wl
from bench.workload.model import Pop3Op


@pytest.mark.criterion(*wl.POP_SESSION)
@pytest.mark.parametrize("family", [4, 6])
def test_full_session(bench, family: int) -> None:
    bench.check(wl.pop3_session(family))


@pytest.mark.criterion(*wl.POP_SESSION, "POP-AUTH-2")
@pytest.mark.parametrize("family", [4, 6])
def test_apop_session(bench, family: int) -> None:
    bench.check(wl.pop3_session(family, apop=True))


@pytest.mark.criterion("POP-TRANS-4")
def test_rset_undoes_dele(bench) -> None:
    bench.check(wl.pop3_rset())


@pytest.mark.criterion("POP-AUTH-3", "POP-AUTH-1")
def test_apop_refused_falls_back_to_user_pass(bench) -> None:
    bench.check(wl.pop3_apop_refused())


@pytest.mark.criterion("POP-AUTH-4", "POP-AUTH-1")
def test_no_timestamp_no_apop(bench) -> None:
    bench.check(wl.pop3_apop({"apop": False}, "POP-AUTH-4"))


@pytest.mark.criterion("POP-AUTH-5")
def test_bad_password(bench) -> None:
    bench.check(wl.pop3_bad_password())


@pytest.mark.criterion("POP-TRANS-5")
@pytest.mark.parametrize(
    "verb,op",
    [("STAT", Pop3Op("stat", expect="err")), ("LIST", Pop3Op("list", 1, expect="err")),
     ("RETR", Pop3Op("retr", 1, expect="err")), ("DELE", Pop3Op("dele", 1, expect="err")),
     ("RSET", Pop3Op("rset", expect="err")), ("NOOP", Pop3Op("noop", expect="err"))],
    ids=["stat", "list", "retr", "dele", "rset", "noop"],
)
def test_err_reply_reported(bench, verb: str, op: Pop3Op) -> None:
    bench.check(wl.pop3_err(verb, op))


@pytest.mark.criterion("POP-TRANS-1", "POP-TRANS-2")
def test_figures_beyond_16_and_31_bits(bench) -> None:
    bench.check(wl.pop3_large_figures())


@pytest.mark.criterion("POP-WIRE-1", "POP-WIRE-2", *wl.WIRE)
def test_user_name_at_the_declared_payload(bench) -> None:
    info = bench.device.info
    assert info is not None, "the device declared no limits (hello)"
    bench.check(wl.pop3_long_user(info.limits.pop3_payload))
