"""How the self-test reads a suite run: a mutant KILLED, SURVIVED, ..., the reference PASS or FAIL; its table and summary."""
from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

KILLING_OUTCOMES = ("fail", "inconclusive")


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


def _named(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """(test nodeid, criterion) pairs as "CRITERION test_function[param]"."""
    return [f"{c} {t.split('::')[-1]}" for t, c in pairs]


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
    out.killed_by = _named(genuine)
    if genuine:
        out.status = "KILLED"
    elif hits:
        out.status = "FLAKY-KILL"
        out.note = "failed only where the reference also failed: " + ", ".join(_named(hits))
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
        out.note = "failed: " + ", ".join(_named(sorted(out.failing)))
    out.status = "PASS" if rc == 0 and not out.failed and not out.errors else "FAIL"
    if out.status == "FAIL" and not out.failed and not out.errors:
        out.note = f"pytest exit {rc}"


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
