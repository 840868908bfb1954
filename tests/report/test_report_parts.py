"""Artifact readers, the timeline cap and the payload plot on their own."""
from __future__ import annotations

import re
from pathlib import Path

from bench.agent.uartlog import UartRecord
from bench.report.artifacts import PacketRow, parse_transcript_line, read_transcript, read_uart_log
from bench.report.plot import Limit, PayloadPlot, PlotPoint, render_payload_svg
from bench.report.timeline import build_timeline, show_bytes
from bench.servers.transcript import Session, Transcript, TranscriptLine


def test_transcript_round_trip_with_hash_and_quotes_in_data(tmp_path: Path) -> None:
    data = [b"AUTH PLAIN # not a note\r\n", b"it's \"quoted\" \\ \x00\xff\r\n", b"'"]
    lines = [TranscriptLine(10.0 + i, 3, "c>s", d, "note # with hash" if i == 1 else "") for i, d in enumerate(data)]
    path = tmp_path / "smtp-transcript.txt"
    Transcript("smtp", [Session(3, "smtp", "10.0.2.15:1", 10.0, lines=lines)]).write(path)
    parsed = read_transcript(path)
    assert parsed.skipped == 0
    assert [e.data for e in parsed.records] == data
    assert [e.note for e in parsed.records] == ["", "note # with hash", ""]
    assert {e.server for e in parsed.records} == {"smtp"}
    assert parse_transcript_line("garbage line here now") is None


def test_uart_log_directions_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "uart.log"
    path.write_text(UartRecord(1.5, "host", b"hello").render() + "\nnot a record\n"
                    + UartRecord(2.0, "dev", b"ok  two  spaces").render() + "\n")
    parsed = read_uart_log(path)
    assert [(u.t, u.direction, u.text) for u in parsed.records] == [(1.5, "host", "hello"),
                                                                     (2.0, "dev", "ok  two  spaces")]
    assert parsed.skipped == 1


def test_timeline_cap_keeps_failing_packets() -> None:
    packets = [PacketRow(i, 100.0 + i, "c>s", "PA", 10, False, "a:1", "b:2", 0) for i in range(1, 51)]
    tl = build_timeline([], [], packets, frozenset({"pkt-45"}), limit=10)
    assert [r.packet for r in tl.rows] == list(range(1, 11)) + [45]
    assert tl.total == 50 and tl.omitted == 39
    assert tl.rel_ms(tl.rows[-1]) == 44000.0


def test_show_bytes_shortens_long_data() -> None:
    text = show_bytes(b"x" * 1000, limit=20)
    assert text.startswith("x" * 20) and text.endswith("(1000 bytes)")


def test_plot_limit_steps_per_connection() -> None:
    a, b = Limit(120, "POP-WIRE-2 verdict"), Limit(1024, "declared smtp_payload")
    pts = [PlotPoint(1, 4, 0.0, 100, a, False, "c1"), PlotPoint(2, 9, 0.1, 130, a, False, "c1"),
           PlotPoint(3, 20, 0.2, 900, b, True, "c2")]
    svg = render_payload_svg(PayloadPlot(pts, 3))
    assert svg.count('class="limit"') == 2
    assert svg.count('class="pt over"') == 1 and 'data-packet="9"' in svg
    assert 'class="pt retrans"' in svg
    assert "#9: 130" in svg


def test_capture_clock_aligned_on_server_replies(tmp_path: Path) -> None:
    import dataclasses
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import build_run

    from bench.report.artifacts import read_capture
    from bench.report.clock import align_capture
    from bench.report.model import _protocol

    run = build_run(tmp_path)
    cap = read_capture(run.pcap)
    entries = read_transcript(run.test_dir / "pop3-transcript.txt").records
    assert align_capture(cap.connections, entries, _protocol) is None  # same clock already
    later = [dataclasses.replace(e, t=e.t + 7.25) for e in entries]  # a capture 7.25 s behind the host
    clock = align_capture(cap.connections, later, _protocol)
    assert clock is not None and clock.matched == 1
    assert abs(clock.offsets[0] - 7.25) < 0.001
    shifted = clock.shift(cap.packets)
    assert [p.index for p in shifted] == [p.index for p in cap.packets]
    assert abs(shifted[0].t - cap.packets[0].t - clock.offsets[0]) < 1e-9
    assert "+7249.5 ms" in clock.describe()


def test_body_loading_lines_fold_into_one_row() -> None:
    import base64

    from bench.report.artifacts import UartLine

    chunk = b"x" * 384
    uart = [UartLine(1.0, "host", "4ba smtp.body reset=1", 1), UartLine(1.001, "dev", "4ba ok", 2)]
    for i in range(22):
        rid = f"{0x4bb + i:x}"
        uart += [UartLine(1.01 + i / 100, "host", f"{rid} smtp.body data={base64.b64encode(chunk).decode()}", 3 + i),
                 UartLine(1.011 + i / 100, "dev", f"{rid} ok", 4 + i)]
    uart.append(UartLine(2.0, "host", "4d1 smtp.send", 99))
    tl = build_timeline(uart, [], [])
    assert [r.text for r in tl.rows] == ["23 smtp.body lines, 8,448 octets (and the device's 23 answers)",
                                         "4d1 smtp.send"]
    cited = frozenset({f"u{round(1.05 * 1e6)}"})  # a line a verdict cites is never folded away
    assert any(r.failing for r in build_timeline(uart, [], [], cited).rows)


def test_memory_over_rounds_from_the_uart_log() -> None:
    from bench.report.artifacts import UartLine
    from bench.report.diagrams import memory_trace, render_memory_svg

    uart, t = [], 1.0
    for r in range(6):  # a baseline, then five rounds; the pool loses a buffer from round 3 on
        uart += [UartLine(t, "host", f"{r:x}0 sys.info", 0),
                 UartLine(t + 0.001, "dev", f"{r:x}0 ok uptime_ms=1 heap_free=4096 pool_free={32 - (r >= 3)} "
                          "pool_total=32 pcb_free=8 pcb_total=8", 0),
                 UartLine(t + 0.01, "host", f"{r:x}1 smtp.send to=a subject=b", 0),
                 UartLine(t + 0.02, "dev", f"{r:x}1 ok heap_free=1 pool_free=1 pool_total=1 pcb_free=1 pcb_total=1", 0)]
        t += 1
    samples = memory_trace(uart)
    assert [s.round for s in samples] == [0, 1, 2, 3, 4, 5]  # a send's answer is not a sample
    assert [s.pool_free for s in samples] == [32, 32, 32, 31, 31, 31]
    svg = render_memory_svg(samples)
    assert 'data-series="pool_free" data-baseline="32"' in svg
    below = re.findall(r'class="pt over" data-series="(\w+)" data-round="(\d+)"', svg)
    assert below == [("pool_free", "3"), ("pool_free", "4"), ("pool_free", "5")]


def test_sequence_of_a_connection_marks_cited_frames(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import build_run

    from bench.capture.tcpflow import read_connections
    from bench.report.diagrams import render_sequence_svg, sequence

    run = build_run(tmp_path)
    (conn,) = read_connections(run.pcap)
    events = sequence(conn, frozenset({run.big_frame}))
    assert [e.kind for e in events][:3] == ["syn", "syn", "data"] and events[-2].kind == "fin"
    assert [e.frame for e in events if e.cited] == [run.big_frame]
    assert [e.label.split(" (")[0] for e in events if e.kind == "data"][:2] == ["+OK POP3 ready <1.2@bench>", "USER alice"]
    svg = render_sequence_svg(events, conn.subject)
    assert f'class="arrow data cited" data-frame="{run.big_frame}" data-client="1"' in svg


def test_segment_sizes_on_a_time_axis() -> None:
    lim = Limit(120, "declared pop3_payload")
    pts = [PlotPoint(1, 4, 10.0, 100, lim, False, "c1"), PlotPoint(2, 6, 10.01, 100, lim, False, "c1"),
           PlotPoint(3, 9, 10.5, 130, lim, False, "c1")]
    svg = render_payload_svg(PayloadPlot(pts, 3))
    cx = [float(v) for v in re.findall(r'<circle cx="([\d.]+)"', svg)]
    assert (cx[2] - cx[1]) > 10 * (cx[1] - cx[0]) > 0  # 490 ms versus 10 ms apart
    assert "ms since the first client data segment" in svg


def test_console_says_what_was_judged_and_a_failed_boot(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import build_run

    from bench.report.console import render_summary

    run = build_run(tmp_path)
    lines = render_summary(run.record)
    judged = next(ln for ln in lines if ln.startswith("judged: "))
    assert run.image_sha256 in judged and "targets/mps2-an385.toml" in judged and "catalogue version 3" in judged
    assert not any("NEVER BOOTED" in ln for ln in lines)
    run.record.boot_failure = "TimeoutError: no agent banner within 15 s\nmore"
    assert render_summary(run.record)[-3] == "THE BOARD NEVER BOOTED: TimeoutError: no agent banner within 15 s"
