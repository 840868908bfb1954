"""Mutation self-test: does the acceptance suite reject bad firmware?

Each mutant in ``tests/mutants/mutants.toml`` is one small defect, a patch to
the reference firmware. For each: copy the firmware source (the committed
state by default), apply the patch, build it, run the acceptance suite on the
image and read ``verdicts.json``. The mutant is KILLED when one of the
criteria it names gets a "fail" or "inconclusive" verdict; otherwise it
SURVIVES, unless a test failed without any verdict (the suite could not judge
it): that is NO-VERDICT, never a silent SURVIVED; a suite run that did not end
normally (interrupted, internal error, no verdicts.json) is ERROR. The unpatched
reference is built and run too (``--reference-runs`` times) and must pass every
verdict: a flaky reference makes every kill suspect. While it runs it prints
"[N/M]" per mutant with the time elapsed and an estimate of the time left.

Exit status: 0 when the reference passed every run and every mutant was killed;
1 when a mutant survived or was not judged, a patch did not apply, a build
failed or the reference failed; 2 on a setup error; 130 on Ctrl-C.

    bench selftest                       # every mutant, reference once
    bench selftest --reference-runs 10   # the flakiness check
    bench selftest --only smtp-two-rcpts --keep
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.cli import plain
from bench.config import ConfigError, load_target, project_root
from bench.selftest_runs import run_suite
from bench.selftest_source import FIRMWARE, SelftestError, apply_patch, build, export_source
from bench.selftest_verdicts import Outcome, judge_mutant, judge_reference, render, write_summary

__all__ = ["FIRMWARE", "Eta", "Mutant", "Outcome", "SelftestError", "judge_mutant", "load_manifest", "main"]


@dataclass(frozen=True)
class Mutant:
    name: str
    patch: Path
    description: str
    expect: tuple[str, ...]


def load_manifest(path: Path) -> list[Mutant]:
    data = tomllib.loads(path.read_text())
    mutants = []
    for m in data.get("mutant", []):
        missing = {"name", "patch", "description", "expect"} - set(m)
        if missing:
            raise SelftestError(f"{path}: mutant {m.get('name', '?')} lacks {', '.join(sorted(missing))}")
        if not m["expect"]:
            raise SelftestError(f"{path}: mutant {m['name']} expects no criterion")
        mutants.append(Mutant(m["name"], path.parent / m["patch"], m["description"], tuple(m["expect"])))
    names = [m.name for m in mutants]
    if len(set(names)) != len(names):
        raise SelftestError(f"{path}: duplicate mutant names")
    return mutants


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench selftest", description=plain(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=None, help="default tests/mutants/mutants.toml")
    p.add_argument("--target", default="mps2-an385", help="an emulated target (default mps2-an385)")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this mutant (repeatable)")
    p.add_argument("--reference-runs", type=int, default=1, metavar="N",
                   help="runs of the unpatched reference, all must pass (default 1; 0 skips it)")
    p.add_argument("--rev", default="HEAD",
                   help="git revision whose firmware source is mutated (default HEAD)")
    p.add_argument("--worktree", action="store_true", help="mutate the working tree's source instead of --rev")
    p.add_argument("--run-dir", type=Path, default=None, help="default captures/selftest-<time>")
    p.add_argument("--keep", action="store_true", help="keep the temporary source trees and builds")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments for every run (after --)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = project_root()
    try:
        mutants = load_manifest(args.manifest or root / "tests" / "mutants" / "mutants.toml")
        if args.list:
            for m in mutants:
                print(f"{m.name:32} {' '.join(m.expect):28} {m.description}")
            return 0
        if args.only:
            unknown = set(args.only) - {m.name for m in mutants}
            if unknown:
                raise SelftestError(f"unknown mutant(s): {', '.join(sorted(unknown))}")
            mutants = [m for m in mutants if m.name in args.only]
        cfg = load_target(args.target)
        if cfg.board.driver != "qemu":
            raise SelftestError(f"target {cfg.name} is not emulated: the self-test builds and boots images under QEMU")
        return _selftest(args, root, cfg.board.machine, mutants)
    except (SelftestError, ConfigError) as exc:
        print(f"bench selftest: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench selftest: interrupted", file=sys.stderr)
        return 130


def _selftest(args: argparse.Namespace, root: Path, board: str, mutants: list[Mutant]) -> int:
    started, t_start = time.time(), time.monotonic()
    run_root = (args.run_dir or root / "captures" / time.strftime("selftest-%Y%m%d-%H%M%S")).resolve()
    run_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-selftest-"))
    rows: list[Outcome] = []
    source = "working tree" if args.worktree else f"git {args.rev}"
    print(f"selftest: {len(mutants)} mutants, reference x{args.reference_runs}, board {board}, "
          f"source {source}; artifacts in {run_root}", flush=True)
    try:
        pristine = export_source(root, tmp / "pristine", None if args.worktree else args.rev)
        if args.reference_runs > 0:
            _references(args, root, board, pristine, tmp, run_root, rows)
        reference_failing = {f for r in rows for f in r.failing}
        clock = Eta(len(mutants), started=t_start)
        for m in mutants:
            clock.begin()
            print(clock.line(m.name), flush=True)
            out = Outcome(m.name, expect=m.expect, run_dir=run_root / m.name)
            out.run_dir.mkdir(parents=True, exist_ok=True)
            rows.append(out)
            _mutant(args, root, board, m, pristine, tmp / m.name, out.run_dir, out, reference_failing)
            _progress(out)
            if not args.keep:
                shutil.rmtree(tmp / m.name, ignore_errors=True)
    finally:
        if rows:
            write_summary(run_root / "selftest.json", rows, started)
        if args.keep:
            print(f"selftest: source trees kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    for line in render(rows):
        print(line)
    refs = [r for r in rows if r.name.startswith("reference")]
    muts = [r for r in rows if not r.name.startswith("reference")]
    killed = sum(r.status == "KILLED" for r in muts)
    ref_ok = sum(r.status == "PASS" for r in refs)
    unjudged = {st: sum(r.status == st for r in muts) for st in ("NO-VERDICT", "ERROR")}
    extra = "".join(f", {n} {st}" for st, n in unjudged.items() if n)
    print(f"\nreference: {ref_ok}/{len(refs)} runs passed; mutants: {killed}/{len(muts)} killed{extra}; "
          f"{time.time() - started:.0f} s; summary {run_root / 'selftest.json'}")
    return 0 if all(r.ok for r in rows) else 1


def _references(args: argparse.Namespace, root: Path, board: str, pristine: Path, tmp: Path, run_root: Path,
                rows: list[Outcome]) -> None:
    """Build the unpatched reference once and run the suite on it ``--reference-runs`` times (rows appended)."""
    t0 = time.monotonic()
    elf = build(pristine, board, tmp / "build-reference", run_root / "reference-build.log")
    build_s = time.monotonic() - t0
    if elf is None:
        rows.append(Outcome("reference", status="BUILD-FAIL", build_s=build_s,
                            note=f"see {run_root / 'reference-build.log'}"))
        return
    for i in range(1, args.reference_runs + 1):
        name = "reference" if args.reference_runs == 1 else f"reference-{i}"
        run_dir = run_root / name
        out = Outcome(name, build_s=build_s if i == 1 else 0.0, run_dir=run_dir)
        t0 = time.monotonic()
        rc = run_suite(root, args.target, elf, run_dir, args.pytest_args)
        out.run_s = time.monotonic() - t0
        judge_reference(out, run_dir, rc)
        rows.append(out)
        _progress(out)


def _mutant(args: argparse.Namespace, root: Path, board: str, m: Mutant, pristine: Path, tree: Path, run_dir: Path,
            out: Outcome, reference_failing: set[tuple[str, str]]) -> None:
    """Patch a copy of the pristine tree, build it, run the suite on it and judge the mutant into ``out``."""
    if not m.patch.is_file():
        out.status, out.note = "NO-APPLY", f"patch file {m.patch} missing"
        return
    shutil.copytree(pristine, tree, symlinks=True)
    if not apply_patch(tree, m.patch, run_dir / "patch.log"):
        out.status, out.note = "NO-APPLY", f"patch does not apply: see {run_dir / 'patch.log'}"
        return
    t0 = time.monotonic()
    elf = build(tree, board, tree / "build", run_dir / "build.log")
    out.build_s = time.monotonic() - t0
    if elf is None:
        out.status, out.note = "BUILD-FAIL", f"see {run_dir / 'build.log'}"
        return
    t0 = time.monotonic()
    rc = run_suite(root, args.target, elf, run_dir, args.pytest_args)
    out.run_s = time.monotonic() - t0
    judge_mutant(out, run_dir, reference_failing, rc)


class Eta:
    """Where the self-test is: "[N/M] name", the time elapsed, and the time left at
    the mean of the mutants finished so far (each is a build and a suite run)."""

    def __init__(self, total: int, started: float | None = None) -> None:
        self.total = total
        self.started = time.monotonic() if started is None else started  # the self-test's start
        self.done: list[float] = []
        self._current: float | None = None

    def begin(self) -> None:
        now = time.monotonic()
        if self._current is not None:
            self.done.append(now - self._current)
        self._current = now

    def remaining_s(self) -> float | None:
        if not self.done:
            return None
        return sum(self.done) / len(self.done) * (self.total - len(self.done))

    def line(self, name: str) -> str:
        n = len(self.done) + 1
        left = self.remaining_s()
        eta = "estimating the time left" if left is None else f"about {_mmss(left)} left"
        return f"[{n}/{self.total}] {name}: {_mmss(time.monotonic() - self.started)} elapsed, {eta}"


def _mmss(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m}m{s:02d}s"


def _progress(out: Outcome) -> None:
    failed = f" (failed: {' '.join(out.failed)})" if out.failed else ""
    print(f"  {out.name}: {out.status}{failed} build {out.build_s:.1f}s run {out.run_s:.1f}s", flush=True)
    if out.killed_by:
        more = f" (+{len(out.killed_by) - 3} more)" if len(out.killed_by) > 3 else ""
        print(f"    killed by: {'; '.join(out.killed_by[:3])}{more}", flush=True)
    if out.note:
        print(f"    {out.note}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
