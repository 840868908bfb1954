"""The agent client against a hostile device on a real socket:// port: floods,
over-long lines, stray printf lines. Linear time, bounded memory, deadlines hold."""
from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from bench.agent.client import CUT_NOTE, LINE_KEEP, AgentClient, AgentTimeout
from bench.agent.uartlog import MEMORY_RECORDS, UartLog

Script = Callable[[socket.socket], None]


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Callable[[Script], AgentClient]]:
    stop = threading.Event()
    made: list[tuple[threading.Thread, socket.socket, serial.SerialBase, UartLog]] = []

    def start(script: Script) -> AgentClient:
        lst = socket.create_server(("127.0.0.1", 0))
        opened = threading.Event()

        def serve() -> None:
            conn, _ = lst.accept()
            opened.wait(2)
            with conn:
                try:
                    script(conn)
                except OSError:
                    pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        port = serial.serial_for_url(f"socket://127.0.0.1:{lst.getsockname()[1]}", timeout=0.1)
        log = UartLog()
        log.open_session(tmp_path / "uart-session.log")
        made.append((t, lst, port, log))
        opened.set()
        return AgentClient(port, log)

    yield start
    stop.set()
    for t, lst, port, log in made:
        port.close()
        log.close()
        t.join(timeout=5)
        lst.close()


def request_tag(conn: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf.split(b" ", 1)[0]


def _send_all(conn: socket.socket, data: bytes, piece: int = 1 << 16) -> None:
    for i in range(0, len(data), piece):
        conn.sendall(data[i:i + piece])


@pytest.mark.parametrize("size", [1 << 20, 10 << 20])
def test_an_over_long_line_is_cut_logged_as_noise_and_the_reply_still_read(device, size: int) -> None:
    def script(conn: socket.socket) -> None:
        tag = request_tag(conn)
        _send_all(conn, b"x" * size + b"\n")
        conn.sendall(tag + b" ok proto=1\n")
        time.sleep(0.5)

    client = device(script)
    t0 = time.monotonic()
    reply = client.request("hello", timeout=20)
    took = time.monotonic() - t0
    assert reply.ok and reply.get("proto") == "1"
    assert took < 5, f"{size} bytes took {took:.1f} s"
    cut = [r.line for r in client.log.records if r.line.endswith(CUT_NOTE)]
    assert len(cut) == 1 and len(cut[0]) == LINE_KEEP + len(CUT_NOTE)
    dropped = [r.line for r in client.log.records if b"more bytes of that line dropped" in r.line]
    assert dropped == [b"[%d more bytes of that line dropped]" % (size - LINE_KEEP)]
    assert len(client._buf) <= LINE_KEEP + 65536


def test_an_endless_line_cannot_stretch_the_deadline_or_fill_memory(device) -> None:
    stop = threading.Event()

    def script(conn: socket.socket) -> None:
        request_tag(conn)
        junk = b"y" * 65536
        while not stop.is_set():
            conn.sendall(junk)

    client = device(script)
    tracemalloc.start()
    t0 = time.monotonic()
    with pytest.raises(AgentTimeout):
        client.request("hello", timeout=1.5)
    took = time.monotonic() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    assert 1.4 < took < 2.5, took
    assert peak < 8 << 20, f"peak {peak} bytes while reading an endless line"


def test_a_flood_of_log_lines_cannot_stretch_the_deadline_and_memory_stays_bounded(device, tmp_path: Path) -> None:
    stop = threading.Event()
    sent = [0]

    def script(conn: socket.socket) -> None:
        request_tag(conn)
        lines = b"".join(b"* log flood line %06d\n" % k for k in range(2000))
        while not stop.is_set():
            conn.sendall(lines)
            sent[0] += 2000

    client = device(script)
    t0 = time.monotonic()
    with pytest.raises(AgentTimeout, match="only other lines|no reply"):
        client.request("hello", timeout=2.0)
    took = time.monotonic() - t0
    stop.set()
    assert took < 3.0, took
    records = client.log.records
    assert records.total > MEMORY_RECORDS, "the flood was too slow to test the bound"
    assert len(list(records)) <= MEMORY_RECORDS and records.dropped == records.total - len(list(records))
    client.log.close()
    in_file = (tmp_path / "uart-session.log").read_bytes().count(b"flood line")
    assert in_file == records.total - 1  # the file keeps every line (all but the request are flood lines)


def test_stray_lines_are_noise_not_errors(device) -> None:
    """docs/agent-protocol.md: any line that is no well-formed reply to the current request is noise."""
    def script(conn: socket.socket) -> None:
        tag = request_tag(conn)
        conn.sendall(b"Link ok now\nStatus err\n" + b"zz data !!!notbase64\n" + tag + b" data %%%\n"
                     + b"Link down err\n" + tag + b" ok n=1 octets=5\n")
        time.sleep(0.5)

    client = device(script)
    reply = client.request("pop3.stat", timeout=3)
    assert reply.ok and reply.int("octets") == 5
    logged = [r.line for r in client.log.records if r.direction == "dev"]
    assert b"Link ok now" in logged and b"Status err" in logged


def test_a_reply_arriving_in_one_byte_pieces_is_read_in_linear_time(device) -> None:
    def script(conn: socket.socket) -> None:
        tag = request_tag(conn)
        for b in tag + b" ok " + b"k=" + b"v" * 400 + b"\n":
            conn.sendall(bytes([b]))

    client = device(script)
    assert client.request("hello", timeout=5).get("k") == "v" * 400
