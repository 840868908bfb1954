"""The CI examples for self-hosted runners (docs/ci/) use the README's commands,
and those commands run as written on the emulated board: the runner's
BENCH_TARGET is all that changes between a lab bench and this machine."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.config import project_root

ROOT = project_root()
EXAMPLES = {
    "gitlab": ROOT / "docs" / "ci" / "gitlab-ci.yml",
    "github": ROOT / "docs" / "ci" / "github-actions.yml",
}


def commands(name: str) -> list[str]:
    doc = yaml.safe_load(EXAMPLES[name].read_text())
    if name == "gitlab":
        return list(doc["judge-firmware"]["script"])
    return [s["run"] for s in doc["jobs"]["judge"]["steps"] if "run" in s]


def bench_subcommands(line: str) -> list[str]:
    return re.findall(r"\.venv/bin/bench (\w+)", line)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_use_the_readme_commands_and_keep_the_evidence(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    cmds = commands(name)
    assert cmds[0] == "scripts/setup" and "scripts/setup" in readme
    used = [sub for c in cmds for sub in bench_subcommands(c)]
    assert used == ["doctor", "run"], used
    for sub in used:
        assert f".venv/bin/bench {sub}" in readme, f"bench {sub} is not in the README"
    text = EXAMPLES[name].read_text()
    assert "junit.xml" in text and "BENCH_TARGET" in text and "self-hosted" in text or "tags:" in text
    for code in ("0 accepted", "1 firmware rejected", "3 bench or board error"):
        assert code in text


def _env(job_id: str) -> dict[str, str]:
    return {**os.environ, "BENCH_TARGET": "mps2-an385", "FIRMWARE": "firmware_images/mps2-an385/firmware.elf",
            "CI_JOB_ID": job_id}


@pytest.mark.emulated
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="no QEMU")
def test_gitlab_commands_run_on_the_emulated_board(tmp_path: Path) -> None:
    """The doctor line as written; the run line as written plus a one-test selection."""
    job = f"examples-{os.getpid()}"
    env = _env(job)
    doctor_line, run_line = commands("gitlab")[1:]
    r = subprocess.run(["bash", "-c", doctor_line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = ROOT / "captures" / f"ci-{job}"
    try:
        one_test = run_line + " -- -k " + shlex.quote("test_one_mail_with_dotted_body and 4")
        r = subprocess.run(["bash", "-c", one_test], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert (run_dir / "junit.xml").is_file() and (run_dir / "verdicts.json").is_file()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
