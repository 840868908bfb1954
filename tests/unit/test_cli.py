"""The ``bench`` command's argument handling, run as a real subprocess."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.config import project_root


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=project_root())


def test_serve_takes_its_own_options_and_stops_by_itself() -> None:
    run = bench("serve", "--smtp-port", "0", "--pop3-port", "0", "--duration", "0.5")
    assert run.returncode == 0, run.stderr
    assert "smtp: 0 sessions" in run.stdout + run.stderr


def test_unknown_target_is_one_clear_line() -> None:
    run = bench("run", "--target", "no-such-board")
    assert run.returncode == 2
    assert run.stderr.strip().startswith("bench: unknown target 'no-such-board'")
    assert "Traceback" not in run.stderr


def test_run_rejects_stray_options() -> None:
    run = bench("build", "--bogus")
    assert run.returncode == 2 and "unrecognized arguments" in run.stderr


def test_bad_target_file_is_exit_2_one_line_per_key(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((Path(__file__).parents[2] / "targets" / "mps2-an385.toml").read_text()
                   .replace('mode = "user"', 'mode = "usr"\nprob = 1'))
    run = bench("run", "--target", str(bad))
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [f"bench: {bad}: [network] mode: must be one of 'user', 'tap', 'nic' or 'veth', not 'usr'",
                                       f"bench: {bad}: [network] prob: unknown key"]
    assert not list(tmp_path.glob("*/verdicts.json"))
def test_every_command_and_option_has_help_without_markup() -> None:
    from bench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= {"build", "run", "targets", "serve", "selftest", "report"}
    for name, p in sub.choices.items():
        own = name in ("serve", "selftest")  # they parse their own options: ask them
        text = bench(name, "--help").stdout if own else p.format_help()
        assert "``" not in text and "`" not in text.replace("'", ""), name
        if not own:
            assert p.description, name
            for action in p._actions:
                assert action.help, f"bench {name} {action.dest}"
        else:
            assert bench(name, "--help").returncode == 0
    for action in sub._choices_actions:
        assert action.help, action.dest


def test_targets_lists_every_target_file() -> None:
    run = bench("targets")
    assert run.returncode == 0, run.stderr
    names = [line.split()[0] for line in run.stdout.splitlines()]
    assert names == sorted(names) and set(names) == {p.stem for p in (project_root() / "targets").glob("*.toml")}
    assert any(line.startswith("mps2-an385 ") and "qemu mps2-an385" in line for line in run.stdout.splitlines())


def _collected(*args: str) -> list[str]:
    extra = () if "--" in args else ("--",)
    run = bench("run", *args, *extra, "--collect-only")
    assert run.returncode == 0, run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_run_selects_by_criterion_and_by_marker_expression(tmp_path: Path) -> None:
    every = _collected("--run-dir", str(tmp_path / "a"))
    by_option = _collected("--criterion", "SMTP-MAIL-2", "--run-dir", str(tmp_path / "b"))
    by_marker = _collected("--run-dir", str(tmp_path / "c"), "--", "-m", "SMTP-MAIL-2")
    assert by_option and by_option == by_marker and len(by_option) < len(every)
    assert {n.split("::")[0] for n in by_option} == {"tests/acceptance/test_smtp.py"}


def test_unknown_criterion_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    run = bench("run", "--criterion", "NOPE-1", "--run-dir", str(tmp_path / "r"))
    assert run.returncode == 2  # usage: bench run exit codes (pytest says 4)
    assert "--criterion: unknown criterion NOPE-1 (not in docs/REQUIREMENTS.md, version 3)" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    test = tmp_path / "test_misspelt.py"
    test.write_text("import pytest\n\n@pytest.mark.criterion('SMTP-MAIL-2', 'SMTP-MALE-3')\n"
                    "def test_x(bench):\n    pass\n")
    run = bench("run", "--run-dir", str(tmp_path / "r2"), "--", str(test))
    assert run.returncode == 2, run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if "unknown criterion" in line]
    assert len(errors) == 1 and "test_misspelt.py::test_x: unknown criterion SMTP-MALE-3" in errors[0]


def test_test_path_replaces_the_suite_and_cache_options_work(tmp_path: Path) -> None:
    only = _collected("--run-dir", str(tmp_path / "a"), "--", "tests/acceptance/test_pop3.py")
    assert only and all(n.startswith("tests/acceptance/test_pop3.py::") for n in only)
    lf = _collected("--run-dir", str(tmp_path / "b"), "--", "--lf")
    assert lf  # pytest's cache plugin is loaded: --lf is understood (and with no failures runs everything)
