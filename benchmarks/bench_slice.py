"""Figures for the thin slice: wall time from QEMU start to the agent's banner and
to the mail stored by the SMTP emulator, and the firmware's size. Prints; judges nothing."""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.config import load_target, project_root
from bench.session import bench_session

sys.path.insert(0, str(project_root() / "tests" / "acceptance"))
import workloads as wl  # noqa: E402


def once(board: str) -> tuple[float, float]:
    cfg = load_target(board)
    with tempfile.TemporaryDirectory() as tmp, bench_session(cfg, Path(tmp)) as session:
        t0 = time.time()
        session.boot()
        banner = session.boots[-1].banner - t0
        evidence, verdicts = session.run(wl.one_mail(4), "slice")
        assert all(v.passed for v in verdicts), [v.summary for v in verdicts if not v.passed]
        stored = evidence.smtp.sessions[0].ended - t0  # type: ignore[union-attr,operator]
        return banner, stored


def main(argv: list[str]) -> int:
    board = argv[0] if argv else "mps2-an385"
    runs = [once(board) for _ in range(5)]
    banner = statistics.median(r[0] for r in runs)
    stored = statistics.median(r[1] for r in runs)
    print(f"{board}: QEMU start -> banner {banner * 1000:.0f} ms, -> 6 KiB mail stored {stored * 1000:.0f} ms (median of 5)")
    manifest = json.loads((project_root() / "firmware_images" / "manifest.json").read_text())[board]
    print(f"image: text {manifest['text']} B, data {manifest['data']} B, bss {manifest['bss']} B, sha256 {manifest['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
