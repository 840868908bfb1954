"""The self-test's statuses from a run's verdicts.json (the contract between a suite run
and everything that reads it): a test that failed without a verdict is NO-VERDICT, a
run that did not end normally is ERROR, never a silent SURVIVED; and the progress line
counts mutants and estimates the time left."""
from __future__ import annotations

import json
from pathlib import Path

from bench.selftest import Eta, Outcome, judge_mutant


def _run(tmp_path: Path, tests: list[dict]) -> Path:
    (tmp_path / "verdicts.json").write_text(json.dumps({"tests": tests}))
    return tmp_path


def _test(nodeid: str, outcome: str, *verdicts: tuple[str, str]) -> dict:
    return {"nodeid": nodeid, "outcome": outcome, "verdicts": [{"criterion": c, "outcome": o} for c, o in verdicts]}


def _judge(run_dir: Path, rc: int = 1, reference: set[tuple[str, str]] | None = None) -> Outcome:
    out = Outcome("m", expect=("DEV-ROB-1",))
    judge_mutant(out, run_dir, reference or set(), rc)
    return out


def test_killed_by_the_expected_criterion(tmp_path: Path) -> None:
    out = _judge(_run(tmp_path, [_test("a::t1", "failed", ("DEV-ROB-1", "fail")), _test("a::t2", "failed")]))
    assert out.status == "KILLED" and out.killed_by == ["DEV-ROB-1 t1"] and out.errors == ["a::t2"]
    assert out.ok


def test_a_test_that_failed_without_a_verdict_is_not_a_survivor(tmp_path: Path) -> None:
    out = _judge(_run(tmp_path, [_test("a::t1", "passed", ("DEV-ROB-1", "pass")), _test("a::t2", "failed")]))
    assert out.status == "NO-VERDICT" and not out.ok and "1 test(s) failed without a verdict" in out.note


def test_an_unfinished_run_is_an_error(tmp_path: Path) -> None:
    assert _judge(tmp_path / "nothing-here", rc=2).status == "ERROR"
    out = _judge(_run(tmp_path, [_test("a::t1", "passed", ("DEV-ROB-1", "pass"))]), rc=2)
    assert out.status == "ERROR" and "pytest exit 2" in out.note and not out.ok


def test_survived_only_when_every_test_was_judged(tmp_path: Path) -> None:
    out = _judge(_run(tmp_path, [_test("a::t1", "failed", ("SMTP-MAIL-1", "fail"), ("DEV-ROB-1", "pass"))]))
    assert out.status == "SURVIVED" and not out.ok
    flaky = _judge(_run(tmp_path, [_test("a::t1", "failed", ("DEV-ROB-1", "fail"))]), reference={("a::t1", "DEV-ROB-1")})
    assert flaky.status == "FLAKY-KILL"


def test_progress_counts_mutants_and_estimates_the_rest() -> None:
    eta = Eta(4)
    eta.begin()
    assert eta.line("first").startswith("[1/4] first: 0m00s elapsed, estimating the time left")
    eta.started -= 60
    eta._current -= 30  # the first mutant took 30 s
    eta.begin()
    assert round(eta.remaining_s() or 0) == 90  # 3 more at 30 s each, the current one included
    assert eta.line("second") == "[2/4] second: 1m00s elapsed, about 1m30s left"
