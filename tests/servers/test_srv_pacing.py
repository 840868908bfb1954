"""The pacing primitives on real sockets: the peer's counters through sock_diag, unsent octets."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bench.servers.pacing import PeerQueue, set_nodelay, unsent, wait_out


def _pair(host: str) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as lst:
        lst.bind((host, 0))
        lst.listen(1)
        client = socket.create_connection(lst.getsockname()[:2])
        server, _ = lst.accept()
    return server, client


def _until(cond, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.001)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_peer_counters_follow_what_the_peer_received_and_read(host: str) -> None:
    server, client = _pair(host)
    try:
        set_nodelay(server)
        peer = PeerQueue(server)
        assert peer.state() == (0, 0)
        server.sendall(b"hello")
        _until(lambda: peer.state() == (5, 5))  # received, not read
        assert unsent(server) == 0
        assert client.recv(3) == b"hel"
        assert peer.state() == (5, 2)
        client.recv(2)
        assert peer.state() == (5, 0)
        peer.close()
    finally:
        server.close()
        client.close()


def test_wait_out_returns_once_the_local_peer_read_and_times_out_otherwise() -> None:
    async def main() -> tuple[bool, bool, float]:
        srv_ready: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

        async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            srv_ready.set_result(w)

        srv = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        w = await srv_ready
        sock = w.get_extra_info("socket")
        peer = PeerQueue(sock)
        w.write(b"abc")
        t0 = time.monotonic()
        unread = await wait_out(sock, w.transport, peer, 3)  # nobody reads: runs out
        waited = time.monotonic() - t0
        client.recv(3)
        w.write(b"d")
        loop = asyncio.get_running_loop()
        reader = loop.run_in_executor(None, client.recv, 1)
        read = await wait_out(sock, w.transport, peer, 4)
        await reader
        client.close()
        w.close()
        srv.close()
        return unread, read, waited

    unread, read, waited = asyncio.run(main())
    assert unread is False and waited >= 0.2 and read is True
