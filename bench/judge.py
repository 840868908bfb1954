"""``bench judge``: the wire criteria applied to a capture the bench did not make.

A pcap or pcapng from anywhere (tcpdump on a lab switch's mirror port, Wireshark
on a laptop, another bench's run) is judged by the same checks a run uses
(``bench.checks.wire``: NET-WIRE-1/2, POP-WIRE-1/2, SMTP-WIRE-1, SMTP-CONN-1,
SMTP-MAIL-1's RCPT count, SMTP-MAIL-3, and the closing order of SMTP-ERR-1 and
POP-TRANS-4), and the result is written as a run writes it: ``verdicts.json``,
``report.html``, ``junit.xml`` and, when something failed, an annotated pcapng.

The limits come from a target file (its ``[network]``: MTU, device addresses)
and the command line (``--mtu``, ``--mss``, ``--mss6``, ``--pop3-payload``,
``--smtp-payload``, ``--smtp-port``, ``--pop3-port``, ``--device-ip``), the
command line winning. What neither gives is derived: MSS from the MTU (IPv4
40 octets of headers, IPv6 60), payload limits equal to the MSS, and the server
ports from what each server said first (``+OK``/``-ERR`` is POP3, three digits
SMTP). Server transcripts (the bench's ``*-transcript.txt`` format), where they
exist, are kept beside the capture and shown in the report's timeline.

Exit status: 0 every verdict passed, 1 a verdict failed or was inconclusive,
2 usage, 3 the capture could not be read.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.capture.annotate import annotate
from bench.capture.pcap import PcapError
from bench.capture.tcpflow import Connection, read_connections
from bench.checks.closing import CLOSING_CHECKS
from bench.checks.verdict import Outcome, Verdict, inconclusive
from bench.checks.wire import ALL_CHECKS, WireLimits
from bench.report.store import RunRecord, TestRecord

#: every criterion ``bench judge`` can decide from a capture alone
WIRE_CRITERIA: dict[str, object] = {**ALL_CHECKS, **CLOSING_CHECKS}
IPV4_HEADERS, IPV6_HEADERS = 40, 60


@dataclass(frozen=True)
class CaptureLimits:
    """The figures a capture is held to; None = derive (see the module's docstring)."""

    mtu: int = 1500
    mss: int | None = None
    mss6: int | None = None
    pop3_payload: int | None = None
    smtp_payload: int | None = None
    pop3_ports: frozenset[int] = frozenset()
    smtp_ports: frozenset[int] = frozenset()
    device_ips: frozenset[str] = frozenset()

    def wire_limits(self, conns: Iterable[Connection]) -> WireLimits:
        mss = self.mss or self.mtu - IPV4_HEADERS
        mss6 = self.mss6 or self.mtu - IPV6_HEADERS
        pop3, smtp = (self.pop3_ports, self.smtp_ports) if self.pop3_ports or self.smtp_ports else detect_ports(conns)
        return WireLimits(self.mtu, mss, mss6, self.pop3_payload or max(mss, mss6),
                          self.smtp_payload or max(mss, mss6), pop3_ports=pop3, smtp_ports=smtp,
                          device_ips=self.device_ips)


def detect_ports(conns: Iterable[Connection]) -> tuple[frozenset[int], frozenset[int]]:
    """(POP3 ports, SMTP ports) from what each connection's server sent first."""
    pop3, smtp = set(), set()
    for c in conns:
        head = c.s2c.stream[:4]
        if head.startswith((b"+OK", b"-ERR")):
            pop3.add(c.server[1])
        elif len(head) >= 3 and head[:3].isdigit():
            smtp.add(c.server[1])
    return frozenset(pop3), frozenset(smtp)


@dataclass
class Judgement:
    record: RunRecord
    verdicts: list[Verdict] = field(default_factory=list)
    junit: Path | None = None
    report: Path | None = None

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.outcome is Outcome.PASS for v in self.verdicts)

    def by_criterion(self) -> dict[str, list[Verdict]]:
        out: dict[str, list[Verdict]] = {}
        for v in self.verdicts:
            out.setdefault(v.criterion, []).append(v)
        return out


def judge_capture(capture: Path, limits: CaptureLimits, out_dir: Path, *, transcripts: Sequence[Path] = (),
                  criteria: Sequence[str] | None = None, name: str = "", report: bool = True) -> Judgement:
    """Judge ``capture`` into ``out_dir`` (verdicts.json, junit.xml, report.html, annotated pcapng)."""
    unknown = [c for c in criteria or () if c not in WIRE_CRITERIA]
    if unknown:
        raise ValueError(f"not a wire criterion: {', '.join(unknown)}; known: {', '.join(WIRE_CRITERIA)}")
    capture = Path(capture)
    name = name or capture.stem
    record = RunRecord(run_id=out_dir.name, target=f"capture {capture.name}", directory=out_dir.resolve(),
                       started=time.time())
    test = TestRecord(nodeid=f"judge::{name}", criteria=tuple(criteria or WIRE_CRITERIA))
    directory = out_dir / test.dirname
    directory.mkdir(parents=True, exist_ok=True)
    local = directory / ("wire" + (".pcapng" if _is_pcapng(capture) else ".pcap"))
    shutil.copyfile(capture, local)
    kept = []
    for t in transcripts:
        dst = directory / (t.name if t.name.endswith("-transcript.txt") else f"{t.stem}-transcript.txt")
        shutil.copyfile(t, dst)
        kept.append(str(dst))
    t0 = time.monotonic()
    conns = read_connections(local)
    wl = limits.wire_limits(conns)
    verdicts: list[Verdict] = []
    for cid in test.criteria:
        got = WIRE_CRITERIA[cid](conns, wl, local)  # type: ignore[operator]
        if not got and criteria:  # asked for by name: say why there is no verdict
            got = [inconclusive(cid, "no matching connection in the capture")]
        verdicts.extend(got)
    test.criteria = tuple(dict.fromkeys(v.criterion for v in verdicts)) or test.criteria
    annotated = annotate(local, verdicts) if any(not v.passed for v in verdicts) else None
    test.verdicts = verdicts
    test.outcome = "passed" if verdicts and all(v.passed for v in verdicts) else "failed"
    test.duration = time.monotonic() - t0
    if not verdicts:
        test.error = "no device connection to a POP3 or SMTP server in the capture"
    test.artifacts.append({"workload": f"capture {capture.name}", "directory": str(directory),
                           "pcap": str(local), "annotated_pcap": str(annotated) if annotated else None,
                           "uart_log": None, "transcripts": kept, "t_start": None, "t_end": None})
    record.tests.append(test)
    record.finished = time.time()
    record.write()
    out = Judgement(record, verdicts, write_junit(record, out_dir / "junit.xml"))
    if report:
        from bench.report.html import write_html_report

        out.report = write_html_report(out_dir)
    return out


def _is_pcapng(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x0a\x0d\x0d\x0a"


def write_junit(record: RunRecord, path: Path) -> Path:
    """One testsuite per judged capture, one testcase per criterion; non-passing verdicts fail it."""
    suites = ET.Element("testsuites")
    for test in record.tests:
        per: dict[str, list[Verdict]] = {}
        for v in test.verdicts:
            per.setdefault(v.criterion, []).append(v)
        bad_total = sum(1 for vs in per.values() if any(not v.passed for v in vs))
        suite = ET.SubElement(suites, "testsuite", name=test.nodeid, tests=str(len(per)),
                              failures=str(bad_total), errors="1" if test.error else "0")
        if test.error:
            case = ET.SubElement(suite, "testcase", classname=test.nodeid, name="capture")
            ET.SubElement(case, "error", message=test.error)
        for cid, vs in per.items():
            case = ET.SubElement(suite, "testcase", classname=test.nodeid, name=cid)
            bad = [v for v in vs if not v.passed]
            if bad:
                ET.SubElement(case, "failure", message=f"{cid}: {bad[0].summary}").text = _explain(bad)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _explain(verdicts: Iterable[Verdict]) -> str:
    out = []
    for v in verdicts:
        out.append(f"[{v.criterion}] {v.outcome.value.upper()}: {v.summary} ({v.subject})")
        out += [f"    measured {m.name} = {m.value}" + ("" if m.limit is None else f" (allowed {m.comparator} "
                                                          f"{m.limit} {m.unit})".replace(" )", ")"))
                for m in v.measurements]
        out += [f"    {e.source} {e.locator}: {e.excerpt}" for e in v.evidence[:5]]
    return "\n".join(out)


# ---------------------------------------------------------------- command line

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench judge", description=__doc__.replace("``", ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture", type=Path, help="pcap or pcapng file")
    p.add_argument("--target", help="target name or file: MTU and device addresses from its [network]")
    p.add_argument("--transcript", type=Path, action="append", default=[], help="server transcript (repeatable)")
    p.add_argument("--out", type=Path, help="output directory (default captures/judge-<capture>-<time>)")
    p.add_argument("--criteria", help="comma-separated criteria (default every wire criterion with a verdict)")
    for flag, what in (("mtu", "link MTU (default the target's, else 1500)"),
                       ("mss", "IPv4 MSS limit (default MTU - 40)"), ("mss6", "IPv6 MSS limit (default MTU - 60)"),
                       ("pop3-payload", "largest POP3 client segment payload (default the MSS)"),
                       ("smtp-payload", "largest SMTP client segment payload (default the MSS)")):
        p.add_argument(f"--{flag}", type=int, help=what)
    p.add_argument("--smtp-port", type=int, action="append", default=[],
                   help="an SMTP server port (repeatable; default: found from the servers' greetings)")
    p.add_argument("--pop3-port", type=int, action="append", default=[], help="a POP3 server port (repeatable)")
    p.add_argument("--device-ip", action="append", default=[], help="the device's address (repeatable); "
                   "default: the client of every connection")
    return p


def limits_from(args: argparse.Namespace) -> CaptureLimits:
    mtu, ips = 1500, list(args.device_ip)
    if args.target:
        from bench.config import load_target

        net = load_target(args.target).network
        mtu = net.mtu
        ips = ips or [ip for ip in (net.device_ip, getattr(net, "device_ip6", None)) if ip]
    return CaptureLimits(args.mtu or mtu, args.mss, args.mss6, args.pop3_payload, args.smtp_payload,
                         frozenset(args.pop3_port), frozenset(args.smtp_port), frozenset(ips))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from bench.config import ConfigError, project_root

    if not args.capture.is_file():
        print(f"bench judge: no capture file {args.capture}", file=sys.stderr)
        return 2
    try:
        limits = limits_from(args)
    except ConfigError as exc:
        print(f"bench judge: {exc}", file=sys.stderr)
        return 2
    out = args.out or project_root() / "captures" / f"judge-{args.capture.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    criteria = [c.strip() for c in args.criteria.split(",") if c.strip()] if args.criteria else None
    try:
        result = judge_capture(args.capture, limits, out, transcripts=args.transcript, criteria=criteria)
    except PcapError as exc:
        print(f"bench judge: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"bench judge: {exc}", file=sys.stderr)
        return 2
    for cid, vs in result.by_criterion().items():
        worst = next((v for v in vs if not v.passed), vs[0])
        print(f"{worst.outcome.value.upper():13}{cid:15}{len(vs):3} verdicts  {worst.summary if not worst.passed else ''}")
    if not result.verdicts:
        print("no device connection to a POP3 or SMTP server in the capture")
    print(f"report: {result.report}")
    return 0 if result.passed else 1
