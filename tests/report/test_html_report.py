"""The HTML report rendered from a synthetic run directory: real properties, not snapshots."""
from __future__ import annotations

import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import POP3_PAYLOAD, SCRIPT, SyntheticRun, build_run  # noqa: E402

from bench.report.criteria import load_catalogue  # noqa: E402
from bench.report.html import write_html_report  # noqa: E402


class _Page(HTMLParser):
    """Collects timeline rows, SVG points and limit lines, and hrefs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict[str, str]] = []  # class, id, and the cell texts
        self.points: list[dict[str, str]] = []
        self.limits: list[str] = []
        self.hrefs: list[str] = []
        self._in_tl = 0
        self._cell: list[str] | None = None
        self._cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "tl" in a.get("class", "").split():
            self._in_tl += 1
        elif tag == "tr" and self._in_tl:
            self.rows.append({"class": a.get("class", ""), "id": a.get("id", "")})
            self._cells = []
        elif tag == "td" and self._in_tl:
            self._cell = []
        elif tag == "circle":
            self.points.append(a)
        elif tag == "line" and "limit" in a.get("class", ""):
            self.limits.append(a["data-limit"])
        elif tag == "a" and "href" in a:
            self.hrefs.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._in_tl:
            self._in_tl -= 1
        elif tag == "td" and self._cell is not None:
            self._cells.append("".join(self._cell))
            self._cell = None
            self.rows[-1]["cells"] = "\x1f".join(self._cells)  # type: ignore[assignment]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def run(tmp_path: Path) -> SyntheticRun:
    return build_run(tmp_path)


@pytest.fixture
def report(run: SyntheticRun) -> str:
    path = write_html_report(run.run_dir)
    assert path == run.run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def _page(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def _criterion_block(html: str, cid: str) -> str:
    m = re.search(rf'<details class="crit [^"]*" id="crit-{re.escape(cid)}".*?</details>', html, re.S)
    assert m, cid
    return m.group(0)


def test_every_criterion_listed_with_not_exercised(report: str) -> None:
    criteria = load_catalogue().criteria
    assert len(criteria) >= 30
    for c in criteria:
        assert f'id="crit-{c.id}"' in report, c.id
    assert "not exercised" in _criterion_block(report, "DEV-ROB-1")
    assert "b-fail" in _criterion_block(report, "POP-WIRE-2")
    assert "b-inconclusive" in _criterion_block(report, "POP-TRANS-1")
    assert "b-pass" in _criterion_block(report, "NET-WIRE-2")


def test_worst_outcome_wins(report: str, run: SyntheticRun) -> None:
    # POP-WIRE-1 has only a failing verdict, SMTP-CONN-1 only a passing one
    assert re.search(r'id="crit-POP-WIRE-1" open><summary><span class="tw"></span><span class="badge b-fail">',
                     report)
    assert '<details class="crit pass" id="crit-SMTP-CONN-1">' in report


def test_failing_evidence_shown_and_escaped(report: str, run: SyntheticRun) -> None:
    assert SCRIPT not in report
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in report
    assert report.count("<script") == 1  # the report's own few lines of JS
    block = _criterion_block(report, "POP-WIRE-2")
    assert f"above {POP3_PAYLOAD} octets" in block
    assert f'-pkt-{run.big_frame}">#{run.big_frame}</a>' in block  # the frame, linked into the timeline
    assert "132 octets" in block and f"≤ {POP3_PAYLOAD}" in block  # measured vs allowed
    # transcript bytes are shown escaped, as Python escapes them
    assert r"\x00&lt;b&gt;odd&lt;/b&gt;\xff\r\n" in report


def test_timeline_interleaves_three_sources_in_time_order(report: str, run: SyntheticRun) -> None:
    rows = _page(report).rows
    assert {r["class"].split()[0] for r in rows} == {"uart", "transcript", "packet"}
    times = [float(r["cells"].split("\x1f")[0]) for r in rows]
    assert times == sorted(times) and times[0] == 0.0
    kinds = [r["class"].split()[0] for r in rows]
    assert kinds[0] == "uart"  # the agent's command precedes the SYN
    # sources interleave: a UART line sits between packets
    first_pkt, last_pkt = kinds.index("packet"), len(kinds) - 1 - kinds[::-1].index("packet")
    assert "uart" in kinds[first_pkt:last_pkt] and "transcript" in kinds[first_pkt:last_pkt]
    failing = [r for r in rows if "failing" in r["class"]]
    assert [r["id"].split("-tl")[0].rsplit("-", 1)[-1] for r in failing if r["class"].startswith("packet")] \
        == [str(run.big_frame)]
    assert len([r for r in rows if r["class"].startswith("packet")]) == 13


def test_plot_marks_point_above_limit(report: str, run: SyntheticRun) -> None:
    page = _page(report)
    assert page.limits == [str(POP3_PAYLOAD)]
    over = [p for p in page.points if "over" in p["class"].split()]
    assert [(p["data-packet"], p["data-size"]) for p in over] == [(str(run.big_frame), str(run.big_size))]
    within = [p for p in page.points if "over" not in p["class"].split()]
    assert within and all(int(p["data-size"]) <= POP3_PAYLOAD for p in within)
    # the SVG is drawn above the limit line: smaller y is higher
    big = over[0]
    assert float(big["cy"]) < min(float(p["cy"]) for p in within)


def test_links_are_relative_and_exist(report: str, run: SyntheticRun) -> None:
    hrefs = [h for h in _page(report).hrefs if not h.startswith("#")]
    assert hrefs
    for h in hrefs:
        u = urlparse(h)
        assert not u.scheme and not u.netloc and not h.startswith("/"), h
        assert (run.run_dir / unquote(u.path)).is_file(), h
    names = {Path(unquote(h)).name for h in hrefs}
    assert {"wire.pcap", "wire.annotated.pcapng", "uart.log", "pop3-transcript.txt", "verdicts.json",
            "uart-session.log"} <= names


def test_moved_run_directory_still_links(run: SyntheticRun, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / run.run_dir.name
    shutil.copytree(run.run_dir, moved)
    before = _page(write_html_report(run.run_dir).read_text(encoding="utf-8")).rows
    html = write_html_report(moved).read_text(encoding="utf-8")  # the original still exists
    page = _page(html)
    hrefs = [h for h in page.hrefs if not h.startswith("#")]
    assert any(h.endswith("wire.pcap") for h in hrefs)
    assert all(not h.startswith("..") and (moved / unquote(h)).is_file() for h in hrefs)
    assert len(page.rows) == len(before)  # each artifact read once, from the moved copy
    shutil.rmtree(run.run_dir)
    html = write_html_report(moved).read_text(encoding="utf-8")
    assert 'class="packet failing"' in html and len(_page(html).rows) == len(before)


def test_cited_uart_line_highlighted_and_linked(report: str, run: SyntheticRun) -> None:
    key = f"u{round(run.leak_line_t * 1e6)}"
    rows = [r for r in _page(report).rows if r["id"].endswith(key)]
    assert len(rows) == 1 and rows[0]["class"] == "uart failing"
    assert f'href="#{rows[0]["id"]}">t={run.leak_line_t + 0.00015:.6f}</a>' in _criterion_block(report, "DEV-ROB-2")
    assert sum("failing" in r["class"] for r in _page(report).rows if r["class"].startswith("uart")) == 1


def test_header_figures(report: str) -> None:
    assert "mailclient 0.3.1 (abc1234)" in report
    assert "<th>pop3_payload</th>" in report and ">120</td>" in report
    assert "500 ms" in report  # banner 0.5 s after power-on
    assert "3 tests" in report
    assert "TimeoutError: device did not answer &lt;hello&gt;" in report


def test_annotated_pcapng_linked(report: str, run: SyntheticRun) -> None:
    assert '<a href="test_user_pass_login/wire.annotated.pcapng">annotated capture (wire.annotated.pcapng)</a>' \
        in report
    # one found only in the test directory (not in the record) is linked too
    (run.test_dir / "other.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a")
    html = write_html_report(run.run_dir).read_text(encoding="utf-8")
    assert 'href="test_user_pass_login/other.pcapng"' in html
    assert 'class="packet failing"' in html  # the timeline still reads the plain capture


def test_broken_artifacts_are_noted_not_fatal(run: SyntheticRun) -> None:
    run.pcap.write_bytes(b"not a capture at all")
    with (run.test_dir / "pop3-transcript.txt").open("a") as f:
        f.write("1700000000.5 1 c>s this is not a bytes literal\n")
    html = write_html_report(run.run_dir).read_text(encoding="utf-8")
    assert "wire.pcap: PcapError" in html
    assert "pop3-transcript.txt: 1 line(s) not in the expected format" in html
    rows = _page(html).rows
    assert rows and {r["class"].split()[0] for r in rows} == {"uart", "transcript"}
    assert 'class="plot"' not in html


def _field(html: str, name: str) -> str:
    m = re.search(rf'data-field="{re.escape(name)}">([^<]*)<', html)
    assert m, name
    return m.group(1)


def test_header_says_what_was_judged(report: str, run: SyntheticRun) -> None:
    assert _field(report, "image.sha256") == run.image_sha256
    assert _field(report, "image").endswith("my-fw.elf")
    assert _field(report, "target") == "mps2-an385"
    assert _field(report, "target.file") == "targets/mps2-an385.toml"
    assert _field(report, "catalogue.version") == load_catalogue().version
    assert _field(report, "device.fw") == "mailclient 0.3.1 (abc1234)"
    assert _field(report, "bench.version").startswith("0.")
    assert _field(report, "host")
    data = json.loads((run.run_dir / "verdicts.json").read_text())
    assert data["judged"]["image"]["sha256"] == run.image_sha256 and data["judged"]["image"]["manifest"] is None


def test_failed_tests_come_first_and_the_first_screen_says_why(report: str) -> None:
    order = re.findall(r'<details class="test ([a-z-]+)" id="[^"]*"', report)
    assert order == ["failed", "failed", "passed"]
    first = report.index('id="what-failed"')
    assert first < report.index('<div class="meta">') < report.index('id="criteria"')
    screen = report[first:report.index("</div>", first)]
    assert "2 of 3 tests failed" in screen
    assert screen.index("test_user_pass_login") < screen.index("test_stall")
    assert "POP-WIRE-2" in screen and f"allowed ≤ {POP3_PAYLOAD}" in screen  # the reason, measured vs allowed
    assert "TimeoutError: device did not answer &lt;hello&gt;" in screen
    assert 'id="never-booted"' not in report


def test_no_reply_packet_before_the_transcript_line_that_wrote_it(report: str, run: SyntheticRun) -> None:
    rows = _page(report).rows
    kinds = [(r["class"].split()[0], r["cells"].split("\x1f")) for r in rows]
    replies = [i for i, (k, c) in enumerate(kinds) if k == "transcript" and "s>c" in c[1]]
    packets = [i for i, (k, c) in enumerate(kinds) if k == "packet" and "s>c" in c[1] and "len=0" not in c[2]]
    assert len(replies) == len(packets) == 4
    for line, packet in zip(replies, packets):  # the k-th reply written, then the k-th reply packet
        assert line < packet, (kinds[line], kinds[packet])
    assert "1 packet(s) stamped before the transcript line that wrote them" in report


def test_a_board_that_never_booted_is_the_first_thing_said(tmp_path: Path) -> None:
    run_dir = tmp_path / "20231114-221320-mps2-an385"
    run_dir.mkdir()
    why = "TimeoutError: no agent banner within 15 s (last UART output: 'HardFault')"
    tests = [{"nodeid": f"tests/acceptance/test_smtp.py::test_{n}", "criteria": ["SMTP-MAIL-1"], "outcome": "error",
              "error": f"{why}\n<traceback>", "verdicts": [], "artifacts": []} for n in ("a", "b")]
    (run_dir / "verdicts.json").write_text(json.dumps({
        "run_id": run_dir.name, "target": "mps2-an385", "started": 1.0, "finished": 2.0, "device": None,
        "boots": [], "boot_failure": why, "tests": tests}))
    html = write_html_report(run_dir).read_text(encoding="utf-8")
    banner = html.index('id="never-booted"')
    assert banner < html.index('id="what-failed"') < html.index('<div class="meta">')
    assert "The board never booted." in html[banner:banner + 400]
    assert "HardFault" in html[banner:banner + 600]


def test_failed_connection_drawn_as_a_sequence(report: str, run: SyntheticRun) -> None:
    assert report.count('class="plot seq"') == 1  # the failing test's connection; the passing test has none
    assert f'class="arrow data cited" data-frame="{run.big_frame}"' in report


def test_a_cascade_is_shown_as_a_consequence_after_its_cause(report: str) -> None:
    first = report.index('id="what-failed"')
    screen = report[first:report.index("</ol>", first)]
    cause = screen.index('class="cid">POP-WIRE-2<')
    consequence = screen.index('class="cid">POP-WIRE-1<')
    assert cause < consequence  # recorded the other way round
    assert "follows from" in screen[consequence:] and "the oversized segment carried the long command" in screen
    assert "(follows from" in _criterion_block(report, "POP-WIRE-1")
