"""The reference firmware on each Cortex-M core: every client operation against
the bench's emulators, IPv4 and IPv6, checked byte for byte by the catalogue's
checks. (mps2-an385 runs the whole acceptance suite; this covers the M4 and M7
builds of the same source.)"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.checks.verdict import Outcome
from bench.config import load_target
from bench.session import BenchSession, bench_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
import workloads as wl  # noqa: E402

BOARDS = ["mps2-an386", "mps2-an500"]


@pytest.fixture(scope="module", params=BOARDS)
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchSession]:
    cfg = load_target(request.param)
    if not cfg.board.image.exists():
        pytest.fail(f"{cfg.board.image} missing: run scripts/setup (it builds all three boards)")
    with bench_session(cfg, tmp_path_factory.mktemp(request.param)) as s:
        s.boot()
        yield s


WORKLOADS = {  # each with the criteria its acceptance test's marker judges it by
    "smtp-v4": lambda: replace(wl.one_mail(4), criteria=wl.ONE_MAIL),
    "smtp-v6": lambda: replace(wl.one_mail(6), criteria=wl.ONE_MAIL),
    "pop3-v4-apop": lambda: replace(wl.pop3_session(4, apop=True), criteria=(*wl.POP_SESSION, "POP-AUTH-2")),
    "pop3-v6": lambda: replace(wl.pop3_session(6), criteria=wl.POP_SESSION),
    "pop3-rset": lambda: replace(wl.pop3_rset(), criteria=("POP-TRANS-4",)),
    "smtp-auth-login": lambda: replace(wl.auth("login"), criteria=("SMTP-AUTH-2", "SMTP-MAIL-1")),
    "smtp-helo": lambda: replace(wl.ehlo_refused(502), criteria=("SMTP-EHLO-2", "SMTP-MAIL-1")),
}


@pytest.mark.emulated
@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_operations_on_core(session: BenchSession, name: str) -> None:
    _, verdicts = session.run(WORKLOADS[name](), name)
    failed = [f"{v.criterion}: {v.summary} {[e.excerpt for e in v.evidence[:2]]}" for v in verdicts if v.outcome is not Outcome.PASS]
    assert verdicts and not failed, failed
