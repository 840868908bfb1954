"""The examples in docs/workloads.md and the README are code that runs."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import project_root


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def _example(tmp_path: Path) -> Path:
    """The guide's example test, written out as the file it says it is."""
    block = _python_blocks(project_root() / "docs" / "workloads.md")[0]
    name = re.match(r"# (test_\w+\.py)", block)
    assert name, "the example starts with its file name"
    path = tmp_path / name.group(1)
    path.write_text(block)
    return path


def _bench_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", "run", *args], capture_output=True, text=True,
                          timeout=300, cwd=project_root())


@pytest.mark.parametrize("doc", ["docs/workloads.md", "README.md"])
def test_example_tests_import_and_collect(tmp_path: Path, doc: str) -> None:
    block = next(b for b in _python_blocks(project_root() / doc) if "@pytest.mark.criterion" in b)
    path = tmp_path / "test_from_doc.py"
    path.write_text(block)
    run = _bench_run("--run-dir", str(tmp_path / "run"), "--", str(path), "--collect-only")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"test_from_doc\.py::test_\w+", run.stdout), run.stdout


@pytest.mark.emulated
def test_the_guides_example_runs_and_passes_on_the_emulated_board(tmp_path: Path) -> None:
    run = _bench_run("--run-dir", str(tmp_path / "run"), "--", str(_example(tmp_path)))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    data = json.loads((tmp_path / "run" / "verdicts.json").read_text())
    (test,) = data["tests"]
    judged = {v["criterion"]: v["outcome"] for v in test["verdicts"]}
    assert {"SMTP-ERR-1", "DEV-ROB-1"} <= set(judged) and set(judged.values()) == {"pass"}, judged
