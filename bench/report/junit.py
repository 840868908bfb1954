"""JUnit XML that CI tools use: artifact paths relative to where the job runs,
``[[ATTACHMENT|path]]`` lines (GitLab, Jenkins' JUnit attachments plugin).

The pytest plugin writes them into each test case's system-out; the suite is
named after the target and carries the run's identity as properties
(``bench.report.identity.properties``).
"""
from __future__ import annotations

import os
from pathlib import Path

from bench.report.store import TestRecord


def relative(path: str | Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the working directory, where CI jobs run) when it lies
    under it; else as given."""
    p = Path(path)
    root = (base or Path.cwd()).resolve()
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return os.fspath(path)


def attachments(test: TestRecord, run_dir: Path) -> list[str]:
    """The test's captures, logs and transcripts that exist, each once, as relative paths."""
    files: list[str] = []
    for a in test.artifacts:
        for key in ("annotated_pcap", "pcap", "uart_log"):
            if a.get(key):
                files.append(a[key])
        files += a.get("transcripts", [])
    out = []
    for f in files:
        if Path(f).is_file():
            rel = relative(f) if Path(f).resolve().is_relative_to(Path.cwd().resolve()) else relative(f, run_dir)
            if rel not in out:
                out.append(rel)
    return out
