"""AgentClient over real pyserial (socket:// URL) against a scripted device."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import serial

from bench.agent.client import AgentClient, AgentError, AgentLost, AgentTimeout, DeviceFault
from bench.agent.codec import ProtocolViolation
from bench.agent.uartlog import UartLog

Script = Callable[[socket.socket], None]


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], AgentClient]]:
    threads: list[threading.Thread] = []
    listeners: list[socket.socket] = []
    ports: list[serial.SerialBase] = []

    def start(script: Script) -> AgentClient:
        lst = socket.create_server(("127.0.0.1", 0))
        listeners.append(lst)
        opened = threading.Event()  # pyserial's open() discards input already received

        def serve() -> None:
            conn, _ = lst.accept()
            opened.wait(2)
            with conn:
                script(conn)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        threads.append(t)
        port = serial.serial_for_url(f"socket://127.0.0.1:{lst.getsockname()[1]}", timeout=0.1)
        ports.append(port)
        opened.set()
        return AgentClient(port, UartLog())

    yield start
    for p in ports:
        p.close()
    for t in threads:
        t.join(timeout=2)
    for lst in listeners:
        lst.close()


def read_request(conn: socket.socket) -> list[bytes]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf.rstrip(b"\n").split(b" ")


def test_banner_then_request_with_data_lines_noise_and_a_late_reply(scripted) -> None:
    def device(conn: socket.socket) -> None:
        conn.sendall(b"garbage before boot\n* boot proto=1 fw=t/1 board=b\n")
        tag, verb, *_ = read_request(conn)
        assert verb == b"pop3.retr"
        conn.sendall(b"zz ok stale=1\n* log hello\nprintf noise\n" + tag + b" data aGVs\n" + tag + b" data bG8=\n")
        conn.sendall(tag + b" ok n=1 octets=5\n")
        conn.recv(1)  # hold the line open until the client closes

    client = scripted(device)
    banner = client.wait_banner(timeout=2)
    assert banner.fields["fw"] == "t/1"
    reply = client.request("pop3.retr", n=1)
    assert reply.ok and reply.data == b"hello" and reply.int("octets") == 5
    lines = [r.line for r in client.log.records]
    assert b"printf noise" in lines and b"zz ok stale=1" in lines  # kept in the UART log


def test_err_reply_raises_with_code_unless_unchecked(scripted) -> None:
    def device(conn: socket.socket) -> None:
        for _ in range(2):
            tag, *_ = read_request(conn)
            conn.sendall(tag + b" err code=server stage=rcpt reply=550\n")

    client = scripted(device)
    with pytest.raises(AgentError) as info:
        client.request("smtp.send", to="x")
    assert info.value.code == "server" and "stage=rcpt" in str(info.value)
    reply = client.request("smtp.send", check=False, to="x")
    assert not reply.ok and reply.get("reply") == "550"


def test_hung_device_times_out(scripted) -> None:
    done = threading.Event()
    client = scripted(lambda conn: done.wait(3))
    with pytest.raises(AgentTimeout, match="hello"):
        client.request("hello", timeout=0.3)
    done.set()


def test_vanished_console_is_reported(scripted) -> None:
    client = scripted(lambda conn: conn.recv(64))
    with pytest.raises(AgentLost):
        client.request("hello", timeout=2)


def test_fault_during_request(scripted) -> None:
    def device(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"* fault kind=hardfault pc=0x1234\n")

    client = scripted(device)
    with pytest.raises(DeviceFault, match="hardfault"):
        client.request("pop3.stat", timeout=2)
    assert client.faults[0].fields["pc"] == b"0x1234"


def test_unknown_protocol_version_is_refused(scripted) -> None:
    client = scripted(lambda conn: conn.sendall(b"* boot proto=2 fw=x\n"))
    with pytest.raises(ProtocolViolation, match="protocol '2'"):
        client.wait_banner(timeout=2)
