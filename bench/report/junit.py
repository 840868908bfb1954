"""JUnit XML from a run's records, rewritten (atomically) after every test.

pytest's own ``--junitxml`` writes once, at the end, in place: a kill loses all
of it and a full disk leaves it empty. This one is rewritten from the records
after each test, so it always holds every finished test. What CI tools use:
the suite is named after the target and carries the run's identity as
properties (``bench.report.identity.properties``); verdicts are properties of
their test case (credentials redacted as in verdicts.json); artifact paths are
relative to where the job runs, as ``[[ATTACHMENT|path]]`` lines in each test
case's system-out (GitLab, Jenkins' JUnit attachments plugin). With pytest's
``--junitxml`` instead, the plugin puts the same lines in pytest's file.
"""
from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.checks.verdict import roots_first
from bench.report.redact import redact
from bench.report.store import RunRecord, TestRecord, write_atomic

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


_FAILED = ("failed", "error", "interrupted")


def _case(t: TestRecord, run_dir: Path) -> ET.Element:
    path, _, name = t.nodeid.rpartition("::")
    classname = path.removesuffix(".py").replace("/", ".").replace("::", ".") if path else ""
    case = ET.Element("testcase", classname=classname, name=name or t.nodeid, time=f"{t.duration:.3f}")
    if t.verdicts or t.criteria:
        props = ET.SubElement(case, "properties")
        for c in t.criteria:
            ET.SubElement(props, "property", name="criterion", value=c)
        for v in roots_first(t.verdicts):  # root failures first, consequences after
            follows = f" (follows from {v.follows}: {v.follows_reason})" if v.follows else ""
            ET.SubElement(props, "property", name=f"verdict {v.criterion}",
                          value=redact(f"{v.outcome.value}: {v.summary} [{v.subject}]{follows}", t.secrets))
    text = redact(t.error, t.secrets)
    if t.outcome == "skipped":
        ET.SubElement(case, "skipped", message=text[:200]).text = text
    elif t.outcome in _FAILED:
        tag = "failure" if t.outcome == "failed" else "error"
        first = next((ln for ln in text.splitlines() if ln.strip()), t.outcome)
        ET.SubElement(case, tag, message=first[:300], type=t.outcome).text = text
    files = attachments(t, run_dir)
    if files:
        ET.SubElement(case, "system-out").text = "".join(f"[[ATTACHMENT|{f}]]\n" for f in files)
    return case


def render_junit(record: RunRecord) -> str:
    from bench.report.identity import properties

    suite = ET.Element("testsuite", name=record.target or "mailbench",
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.started)))
    props = list(properties(record.judged)) if record.judged else []
    dev = record.device
    if dev is not None:
        props += [("device.fw", dev.fw), ("device.board", dev.board)]
    if props:
        el = ET.SubElement(suite, "properties")
        for k, v in props:
            ET.SubElement(el, "property", name=str(k), value=str(v))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for t in record.tests:
        suite.append(_case(t, record.directory))
        counts["tests"] += 1
        counts["failures"] += t.outcome == "failed"
        counts["errors"] += t.outcome in ("error", "interrupted")
        counts["skipped"] += t.outcome == "skipped"
    for k, v in counts.items():
        suite.set(k, str(v))
    suite.set("time", f"{sum(t.duration for t in record.tests):.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(record: RunRecord, path: Path) -> Path:
    return write_atomic(path, render_junit(record))
