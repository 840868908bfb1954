"""How a split reply leaves the emulator: one TCP segment per chunk.

Small writes are coalesced in two places unless the writer waits: in the
sender's kernel (Nagle, or a send queue that was not empty yet) and, when the
peer is a socket on this host such as QEMU's user network (slirp), in that
socket's receive queue, which slirp reads whole and forwards to the guest as
one segment. So after each chunk the emulator waits until

1. its kernel has sent every byte (``TCP_NODELAY`` is set on every session,
   and ``SIOCOUTQNSD``, the unsent octets, is 0), and
2. when the peer socket is on this host, until the peer has received and read
   the chunk (its received-octet count and receive queue, asked for by
   ``sock_diag``): only then can the next chunk not join it.

Each wait is bounded (a peer that stops reading must not hang the emulator);
the emulator records the chunks whose wait ran out, so a split that may have
been coalesced says so in the transcript.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import socket
import struct
import time

SIOCOUTQNSD = 0x894B  # Linux: octets written but not yet sent
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
INET_DIAG_INFO = 2
# inet_diag_msg after the 16-octet netlink header: family, state, timer, retrans,
# a 48-octet sockid, expires, rqueue, wqueue, uid, inode
_RQUEUE = 16 + 4 + 48 + 4
_MSG_END = 16 + 72
_BYTES_RECEIVED = 128  # tcpi_bytes_received in struct tcp_info (Linux 4.1+)
POLL_S = 0.0002
WAIT_S = 0.25  # at most this long per chunk for the kernel and the peer


def set_nodelay(sock: socket.socket) -> None:
    """No Nagle: a write goes on the wire at once, not when the previous one is acknowledged."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def unsent(sock: socket.socket) -> int:
    """Octets this socket's kernel still holds unsent."""
    buf = bytearray(4)
    fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, buf)
    return int.from_bytes(buf, "little")


def _addr(host: str) -> bytes:
    packed = ipaddress.ip_address(host.split("%")[0]).packed
    return packed.ljust(16, b"\0")


class PeerQueue:
    """A TCP peer that lives on this host, through sock_diag: how many octets its
    kernel received on the connection and how many its program has not read yet.

    ``state()`` is None when the peer is not a socket on this host (then only the
    sender's side can be waited for).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.family = sock.family
        local, peer = sock.getsockname(), sock.getpeername()
        # the peer's socket: its source is our destination and the other way round
        self._request = self._build(peer[0], peer[1], local[0], local[1])
        self._nl: socket.socket | None = None
        self.local = True

    def _build(self, src: str, sport: int, dst: str, dport: int) -> bytes:
        sockid = struct.pack("!HH", sport, dport) + _addr(src) + _addr(dst)
        sockid += struct.pack("=III", 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
        req = struct.pack("=BBBBI", self.family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0,
                          0xFFFFFFFF) + sockid
        return struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + req

    def state(self) -> tuple[int, int] | None:
        """(octets received, octets not yet read) of the peer socket, or None."""
        if not self.local:
            return None
        try:
            if self._nl is None:
                self._nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
            self._nl.send(self._request)
            reply = self._nl.recv(8192)
        except OSError:
            self.local = False
            return None
        if struct.unpack_from("=H", reply, 4)[0] == NLMSG_ERROR or len(reply) < _MSG_END:
            self.local = False  # no such socket here: the peer is elsewhere on the network
            return None
        unread = struct.unpack_from("=I", reply, _RQUEUE)[0]
        pos = _MSG_END
        while pos + 4 <= len(reply):  # rtattrs: the tcp_info holds the received count
            length, kind = struct.unpack_from("=HH", reply, pos)
            if length < 4:
                break
            if kind == INET_DIAG_INFO and length >= 4 + _BYTES_RECEIVED + 8:
                return struct.unpack_from("=Q", reply, pos + 4 + _BYTES_RECEIVED)[0], unread
            pos += (length + 3) & ~3
        self.local = False  # a kernel without tcp_info counters: cannot tell
        return None

    def close(self) -> None:
        if self._nl is not None:
            self._nl.close()
            self._nl = None


async def wait_out(sock: socket.socket | None, transport: asyncio.WriteTransport,
                   peer: PeerQueue | None, total: int) -> bool:
    """Wait until the connection's first ``total`` octets have left as segments of
    their own and, for a peer on this host, were received and read by it.
    False when a wait ran out (the next chunk may then join this one)."""
    deadline = time.monotonic() + WAIT_S
    while transport.get_write_buffer_size() or (sock is not None and unsent(sock)):
        if time.monotonic() > deadline or transport.is_closing():
            return False
        await asyncio.sleep(POLL_S)
    while peer is not None:
        state = peer.state()
        if state is None or (state[0] >= total and state[1] == 0):
            return True
        if time.monotonic() > deadline or transport.is_closing():
            return False
        await asyncio.sleep(POLL_S)
    return True
