"""The ``bench`` command's argument handling, run as a real subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, timeout=60)


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
    assert run.stderr.splitlines() == [f"bench: {bad}: [network] mode: must be one of 'user', 'tap' or 'nic', not 'usr'",
                                       f"bench: {bad}: [network] prob: unknown key"]
    assert not list(tmp_path.glob("*/verdicts.json"))
