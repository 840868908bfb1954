"""UART traffic of one acceptance run: octets each way, and what they cost at the
console's baud rate on a real board (8N1: 10 bit times an octet). Under QEMU the
UART is as fast as the host; on a board at 115200 baud it may set the pace, so
this prints the UART time beside the run's wall time, and the tests that move the
most, and the verbs. Reads a run dir's uart-session.log (``captures/<run-id>``); with
no argument, the newest run under captures/. Prints; judges nothing.

Measured here, one acceptance run on mps2-an385 (54 tests), before and after the
cut of issue 13 (docs/agent-protocol.md, "UART traffic"): 81,407 octets to the
device and 150,890 from it (20.2 s at 115200 baud; 85 KB of it RETR data lines)
became 41,443 and 46,832 (7.7 s), every criterion judged as before. The suite then
grew to 62 tests: 44,192 and 50,039 octets (8.2 s).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from bench.config import project_root

BITS_PER_OCTET = 10  # start + 8 data + stop
#: octets (to device, from device) of one acceptance run (54 tests) before the traffic cut (main at 52a50e9)
BEFORE_CUT = (81_407, 150_890)


def traffic(log: Path) -> tuple[Counter[str], Counter[str]]:
    """Octets (line + LF) and lines per direction, from a uart log's ``T >>|<< line`` records."""
    octets: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for rec in log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = rec.split(" ", 2)
        if len(parts) < 2 or parts[1] not in (">>", "<<"):
            continue
        way = "to device" if parts[1] == ">>" else "from device"
        octets[way] += len(parts[2].encode()) + 1 if len(parts) == 3 else 1
        lines[way] += 1
    return octets, lines


def by_verb(log: Path) -> Counter[str]:
    """Octets per request verb, and per reply kind and the verb it answers (``<< data pop3.retr``)."""
    out: Counter[str] = Counter()
    verbs: dict[str, str] = {}  # tag -> verb of its request
    for rec in log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = rec.split(" ", 2)
        if len(parts) < 3 or parts[1] not in (">>", "<<"):
            continue
        words = parts[2].split(" ")
        kind = words[1] if len(words) > 1 else ""
        if parts[1] == ">>":
            verbs[words[0]] = kind
            key = f">> {kind}"
        else:
            key = f"<< {kind} {verbs.get(words[0], '') if words[0] != '*' else ''}".rstrip()
        out[key] += len(parts[2].encode()) + 1
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--baud=")]
    baud = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--baud=")), 115200)
    runs = sorted((project_root() / "captures").glob("*/uart-session.log"), key=lambda p: p.stat().st_mtime)
    run = Path(args[0]) if args else (runs[-1].parent if runs else None)
    if run is None or not (run / "uart-session.log").is_file():
        print("no run with a uart-session.log: run `bench run` first, or give a run dir", file=sys.stderr)
        return 2
    octets, lines = traffic(run / "uart-session.log")
    data = json.loads((run / "verdicts.json").read_text()) if (run / "verdicts.json").is_file() else {}
    wall = float(data.get("finished") or 0) - float(data.get("started") or 0)
    print(f"run {run.name}: {len(data.get('tests', []))} tests, {wall:.1f} s wall")
    for way in ("to device", "from device"):
        secs = octets[way] * BITS_PER_OCTET / baud
        print(f"  UART {way:11}: {octets[way]:>10,} octets in {lines[way]:>6,} lines = {secs:6.1f} s at {baud} baud")
    total = sum(octets.values()) * BITS_PER_OCTET / baud
    # one request outstanding at a time: the two directions take turns, so their times add up
    print(f"  UART both ways: {total:.1f} s at {baud} baud (requests and replies take turns); "
          f"the emulated run took {wall:.1f} s")
    before = sum(BEFORE_CUT) * BITS_PER_OCTET / baud
    print(f"  before the cut (54 tests, main at 52a50e9): {BEFORE_CUT[0]:,} + {BEFORE_CUT[1]:,} octets = {before:.1f} s; "
          f"this run: {sum(octets.values()):,} octets = {total:.1f} s ({total / before:.0%})")
    print("  by verb (request >>, reply << kind verb):")
    for key, n in by_verb(run / "uart-session.log").most_common(8):
        print(f"    {n:>10,} octets  {n * BITS_PER_OCTET / baud:6.1f} s  {key}")
    print("  tests that move the most:")
    per_test = []
    for t in data.get("tests", []):
        log = run / t["nodeid"].split("::")[-1].replace("[", "_").replace("]", "") / "uart.log"
        if log.is_file():
            o, _ = traffic(log)
            per_test.append((sum(o.values()), t["nodeid"].split("::")[-1]))
    for n, name in sorted(per_test, reverse=True)[:5]:
        print(f"    {n:>10,} octets  {n * BITS_PER_OCTET / baud:6.1f} s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
