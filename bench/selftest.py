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
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bench.cli import plain
from bench.config import ConfigError, load_target, project_root

FIRMWARE = Path("targets") / "firmware"
LWIP = "lwip-2.1.3"
KILLING_OUTCOMES = ("fail", "inconclusive")
RUN_TIMEOUT_S = 1800  # one acceptance run; the suite takes ~20 s on a healthy image


class SelftestError(Exception):
    """Setup problem: no manifest, no lwIP, not a git tree, ..."""


@dataclass(frozen=True)
class Mutant:
    name: str
    patch: Path
    description: str
    expect: tuple[str, ...]


@dataclass
class Outcome:
    name: str
    expect: tuple[str, ...] = ()
    status: str = ""  # KILLED SURVIVED NO-VERDICT ERROR FLAKY-KILL NO-APPLY BUILD-FAIL PASS FAIL
    failed: list[str] = field(default_factory=list)  # criteria with a fail/inconclusive verdict
    killed_by: list[str] = field(default_factory=list)  # "criterion test" pairs that killed the mutant
    failing: set[tuple[str, str]] = field(default_factory=set)  # (test nodeid, criterion) not passing
    errors: list[str] = field(default_factory=list)  # tests that failed without any verdict
    build_s: float = 0.0
    run_s: float = 0.0
    run_dir: Path | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("KILLED", "PASS")


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


# ------------------------------------------------------------------ source trees

def export_source(root: Path, dest: Path, rev: str | None) -> Path:
    """The firmware source under dest/targets/firmware, without build/ and third_party/;
    lwIP linked in from the project's tree so it is not fetched again. Returns dest."""
    if rev:
        tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", rev, str(FIRMWARE)],
                             capture_output=True)
        if tar.returncode != 0:
            raise SelftestError(f"git archive {rev} {FIRMWARE}: {tar.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
            tf.extractall(dest, filter="tar")
    else:
        shutil.copytree(root / FIRMWARE, dest / FIRMWARE, symlinks=True,
                        ignore=lambda d, names: [n for n in names if Path(d) == root / FIRMWARE
                                                 and n in ("build", "third_party")])
    lwip = root / FIRMWARE / "third_party" / LWIP
    if not (lwip / "src" / "core" / "tcp.c").is_file():
        raise SelftestError(f"{lwip} is missing: fetch lwIP first (scripts/setup or make -C {FIRMWARE} lwip)")
    third = dest / FIRMWARE / "third_party"
    shutil.rmtree(third, ignore_errors=True)
    third.mkdir(parents=True)
    (third / LWIP).symlink_to(lwip)
    return dest


def apply_patch(tree: Path, patch: Path, log: Path) -> bool:
    """patch -p1 from the tree's root, no fuzz: a patch that drifted fails loudly."""
    with open(log, "w") as out:
        r = subprocess.run(["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                            "-i", str(patch)], cwd=tree, stdout=out, stderr=subprocess.STDOUT)
    return r.returncode == 0


def build(tree: Path, board: str, build_dir: Path, log: Path) -> Path | None:
    with open(log, "w") as out:
        r = subprocess.run(["make", "-C", str(tree / FIRMWARE), f"BOARD={board}", f"BUILD={build_dir}",
                            f"-j{min(2, os.cpu_count() or 1)}"], stdout=out, stderr=subprocess.STDOUT)
    elf = build_dir / "firmware.elf"
    return elf if r.returncode == 0 and elf.is_file() else None


# ------------------------------------------------------------------ acceptance runs

def run_suite(root: Path, target: str, image: Path, run_dir: Path, extra: list[str]) -> int:
    """The acceptance suite on one image, in its own process group (Ctrl-C ends all of it,
    QEMU included). Output goes to <run_dir>/pytest.log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", str(root / "tests" / "acceptance"), "--target", target,
            "--image", str(image), "--run-dir", str(run_dir), "--junitxml", str(run_dir / "junit.xml"),
            "-q", "-p", "no:cacheprovider", *extra]
    with open(run_dir / "pytest.log", "w") as out:
        proc = subprocess.Popen(argv, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=RUN_TIMEOUT_S)
        except BaseException:  # Ctrl-C or the timeout: take the whole group down
            _kill_group(proc)
            raise


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGINT first (pytest tears its fixtures down: the plugin stops QEMU), then
    SIGTERM, then SIGKILL. QEMU runs in its own session, so the processes pytest
    started are noted first and, if still alive at the end, killed by pid."""
    started = _descendants(proc.pid)
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            started |= _descendants(proc.pid)
    for pid, start in started:
        if _start_time(pid) == start:  # the same process, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> set[tuple[int, str]]:
    """Every live descendant of pid as (pid, start time) (Linux /proc; empty elsewhere)."""
    out: set[tuple[int, str]] = set()
    seen = {pid}
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            for k in kids:
                start = _start_time(k)
                if k not in seen and start is not None:
                    seen.add(k)
                    out.add((k, start))
                    todo.append(k)
    return out


def read_verdicts(run_dir: Path) -> tuple[dict[str, set[str]], set[tuple[str, str]], list[str]] | None:
    """criterion -> outcomes seen; the (test, criterion) pairs with a verdict other than
    pass; the tests that failed without any verdict. None if the run wrote no verdicts.json."""
    path = run_dir / "verdicts.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    outcomes: dict[str, set[str]] = {}
    failing: set[tuple[str, str]] = set()
    errors = []
    for test in data.get("tests", []):
        nodeid = test.get("nodeid", "?")
        for v in test.get("verdicts", []):
            outcomes.setdefault(v["criterion"], set()).add(v["outcome"])
            if v["outcome"] != "pass":
                failing.add((nodeid, v["criterion"]))
        if test.get("outcome") == "failed" and not test.get("verdicts"):
            errors.append(nodeid)
    return outcomes, failing, errors


# pytest exit codes after which the run's verdicts are whole: 0 all passed, 1 some failed
# (2 interrupted, 3 internal error, 4 usage error, 5 nothing collected)
WHOLE_RUN = (0, 1)


def judge_mutant(out: Outcome, run_dir: Path, reference_failing: set[tuple[str, str]], rc: int = 1) -> None:
    """KILLED by an expected criterion failing (or inconclusive) in some test, unless that
    very (test, criterion) verdict also failed on the unpatched reference: then the kill
    proves nothing (FLAKY-KILL). Not killed, and some test failed without a verdict:
    NO-VERDICT (the suite could not judge it). A run that did not end normally: ERROR."""
    got = read_verdicts(run_dir)
    if got is None:
        out.status, out.note = "ERROR", f"no verdicts.json in {run_dir} (pytest exit {rc})"
        return
    outcomes, out.failing, out.errors = got
    out.failed = sorted(c for c, o in outcomes.items() if o & set(KILLING_OUTCOMES))
    hits = sorted((t, c) for t, c in out.failing if c in out.expect)
    genuine = [(t, c) for t, c in hits if (t, c) not in reference_failing]
    out.killed_by = [f"{c} {t.split('::')[-1]}" for t, c in genuine]
    if genuine:
        out.status = "KILLED"
    elif hits:
        out.status = "FLAKY-KILL"
        out.note = "failed only where the reference also failed: " + ", ".join(f"{c} {t.split('::')[-1]}" for t, c in hits)
    elif out.errors:
        out.status = "NO-VERDICT"
        out.note = f"{len(out.errors)} test(s) failed without a verdict; none of {', '.join(out.expect)} failed"
    elif rc not in WHOLE_RUN:
        out.status, out.note = "ERROR", f"the suite run ended with pytest exit {rc}"
    else:
        out.status = "SURVIVED"
        unseen = [c for c in out.expect if c not in outcomes]
        if unseen:
            out.note = f"no verdict at all for {', '.join(unseen)}"


def judge_reference(out: Outcome, run_dir: Path, rc: int) -> None:
    got = read_verdicts(run_dir)
    if got is None:
        out.status, out.note = "FAIL", f"no verdicts.json in {run_dir} (pytest exit {rc})"
        return
    outcomes, out.failing, out.errors = got
    out.failed = sorted(c for c, o in outcomes.items() if o - {"pass"})
    if out.failing:
        out.note = "failed: " + ", ".join(f"{c} {t.split('::')[-1]}" for t, c in sorted(out.failing))
    out.status = "PASS" if rc == 0 and not out.failed and not out.errors else "FAIL"
    if out.status == "FAIL" and not out.failed and not out.errors:
        out.note = f"pytest exit {rc}"


# ------------------------------------------------------------------ report

def render(rows: list[Outcome]) -> list[str]:
    head = ("mutant", "expected", "failed criteria", "result", "build s", "run s")
    cells = [(r.name, " ".join(r.expect) or "-", " ".join(r.failed) or "-", r.status,
              f"{r.build_s:.1f}", f"{r.run_s:.1f}") for r in rows]
    widths = [max(len(str(c[i])) for c in [head, *cells]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'>' if i >= 4 else '<'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*c) for c in cells]
    for r in rows:
        if r.note:
            lines.append(f"  {r.name}: {r.note}")
        if r.errors:
            lines.append(f"  {r.name}: tests failed without a verdict: {', '.join(r.errors)}")
    return lines


def write_summary(path: Path, rows: list[Outcome], started: float) -> None:
    path.write_text(json.dumps({
        "started": started, "finished": time.time(),
        "results": [{"name": r.name, "expect": list(r.expect), "status": r.status, "failed": r.failed,
                     "killed_by": r.killed_by, "not_passing": sorted(f"{c} {t}" for t, c in r.failing),
                     "errors": r.errors, "build_s": round(r.build_s, 2), "run_s": round(r.run_s, 2),
                     "run_dir": str(r.run_dir) if r.run_dir else None, "note": r.note} for r in rows],
    }, indent=2) + "\n")


# ------------------------------------------------------------------ main

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
    reference_failing: set[tuple[str, str]] = set()
    source = "working tree" if args.worktree else f"git {args.rev}"
    print(f"selftest: {len(mutants)} mutants, reference x{args.reference_runs}, board {board}, "
          f"source {source}; artifacts in {run_root}", flush=True)
    try:
        pristine = export_source(root, tmp / "pristine", None if args.worktree else args.rev)

        if args.reference_runs > 0:
            t0 = time.monotonic()
            elf = build(pristine, board, tmp / "build-reference", run_root / "reference-build.log")
            build_s = time.monotonic() - t0
            if elf is None:
                rows.append(Outcome("reference", status="BUILD-FAIL", build_s=build_s,
                                    note=f"see {run_root / 'reference-build.log'}"))
            for i in range(1, args.reference_runs + 1):
                if elf is None:
                    break
                name = "reference" if args.reference_runs == 1 else f"reference-{i}"
                out = Outcome(name, build_s=build_s if i == 1 else 0.0, run_dir=run_root / name)
                t0 = time.monotonic()
                rc = run_suite(root, args.target, elf, out.run_dir, args.pytest_args)
                out.run_s = time.monotonic() - t0
                judge_reference(out, out.run_dir, rc)
                reference_failing |= out.failing
                rows.append(out)
                _progress(out)

        clock = Eta(len(mutants), started=t_start)
        for m in mutants:
            clock.begin()
            print(clock.line(m.name), flush=True)
            out = Outcome(m.name, expect=m.expect, run_dir=run_root / m.name)
            out.run_dir.mkdir(parents=True, exist_ok=True)
            rows.append(out)
            if not m.patch.is_file():
                out.status, out.note = "NO-APPLY", f"patch file {m.patch} missing"
                _progress(out)
                continue
            tree = tmp / m.name
            shutil.copytree(pristine, tree, symlinks=True)
            if not apply_patch(tree, m.patch, out.run_dir / "patch.log"):
                out.status, out.note = "NO-APPLY", f"patch does not apply: see {out.run_dir / 'patch.log'}"
                _progress(out)
                continue
            t0 = time.monotonic()
            elf = build(tree, board, tree / "build", out.run_dir / "build.log")
            out.build_s = time.monotonic() - t0
            if elf is None:
                out.status, out.note = "BUILD-FAIL", f"see {out.run_dir / 'build.log'}"
                _progress(out)
                continue
            t0 = time.monotonic()
            rc = run_suite(root, args.target, elf, out.run_dir, args.pytest_args)
            out.run_s = time.monotonic() - t0
            judge_mutant(out, out.run_dir, reference_failing, rc)
            _progress(out)
            if not args.keep:
                shutil.rmtree(tree, ignore_errors=True)
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
