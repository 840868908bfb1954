"""Suite wall time on 1 and on 2 emulated boards, in one run of this script, and
the ratio (goal: 1.7x on a 2-core machine). Each figure is a whole ``bench run``
(boot, 50-odd tests, report), the second with one pytest-xdist worker and one
QEMU per board. Prints; judges nothing.

Run: ``python benchmarks/bench_boards.py [TARGET]``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.config import project_root


def suite(target: str, boards: int, run_dir: Path) -> tuple[float, int]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--target", target, "--boards", str(boards),
                        "--run-dir", str(run_dir)], capture_output=True, text=True, cwd=project_root())
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench run --boards {boards} exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return wall, len(json.loads((run_dir / "verdicts.json").read_text())["tests"])


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "mps2-an385"
    with tempfile.TemporaryDirectory(prefix="bench-boards-") as tmp:
        one, n1 = suite(target, 1, Path(tmp) / "one")
        two, n2 = suite(target, 2, Path(tmp) / "two")
    print(f"{target}: 1 board {one:.1f} s ({n1} tests), 2 boards {two:.1f} s ({n2} tests): {one / two:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
