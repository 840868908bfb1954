"""A veth pair into a network namespace, made and removed by the wire tests (root).

The emulator listens on the host end; a scripted kernel TCP client
(``netns_client.py``) connects from the namespace, so every segment the
emulator's kernel sends crosses the veth, where a live capture sees it exactly as
it left: one frame per segment, on a link with offloads off.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.capture.live import LiveCapture
from bench.capture.tap import free_subnet
from bench.capture.tcpflow import Connection, Segment, read_connections

CLIENT = Path(__file__).with_name("netns_client.py")
SUBNETS = ("10.213.91.0/24", "172.31.191.0/24", "10.213.92.0/24")


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=15)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip()}")
    return res


@dataclass(frozen=True)
class VethLink:
    ns: str
    host_if: str
    host_ip: str
    peer_ip: str

    def client(self, port: int, script: list[list[object]]) -> tuple[bytes, str]:
        """Run the scripted client in the namespace: (bytes received, how reading ended)."""
        res = _run("ip", "netns", "exec", self.ns, sys.executable, str(CLIENT), self.host_ip, str(port),
                   json.dumps(script))
        out = json.loads(res.stdout)
        return bytes.fromhex(out["got"]), out["end"]


@contextlib.contextmanager
def veth_link() -> Iterator[VethLink]:
    tag = f"mbf{os.getpid() % 100000}"
    net = free_subnet(SUBNETS)
    hosts = list(ipaddress.ip_network(net).hosts())
    link = VethLink(ns=f"{tag}ns", host_if=f"{tag}h", host_ip=str(hosts[0]), peer_ip=str(hosts[1]))
    peer_if = f"{tag}p"
    _run("ip", "netns", "add", link.ns)
    try:
        _run("ip", "link", "add", link.host_if, "type", "veth", "peer", "name", peer_if)
        _run("ip", "link", "set", peer_if, "netns", link.ns)
        _run("ip", "addr", "add", f"{link.host_ip}/{net.prefixlen}", "dev", link.host_if)
        _run("ip", "link", "set", link.host_if, "up")
        _run("ip", "-n", link.ns, "addr", "add", f"{link.peer_ip}/{net.prefixlen}", "dev", peer_if)
        _run("ip", "-n", link.ns, "link", "set", peer_if, "up")
        _run("ip", "-n", link.ns, "link", "set", "lo", "up")
        for ns_args, dev in (((), link.host_if), (("ip", "netns", "exec", link.ns), peer_if)):
            _run(*ns_args, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)
        yield link
    finally:
        _run("ip", "link", "del", link.host_if, check=False)
        _run("ip", "netns", "del", link.ns, check=False)


@dataclass(frozen=True)
class Wire:
    """The emulator's side of one connection as captured: its data segments, in order."""

    conn: Connection

    @property
    def segments(self) -> list[Segment]:
        return [s for s in self.conn.s2c.data_segments if not s.retransmission]

    @property
    def payloads(self) -> list[bytes]:
        """Each server segment's bytes, cut from the reassembled stream."""
        out, off = [], 0
        for s in self.segments:
            out.append(self.conn.s2c.stream[off:off + s.payload_len])
            off += s.payload_len
        return out

    def after(self, data: bytes) -> list[bytes]:
        """The server segments after the one whose bytes end the stream prefix ``data``."""
        out, acc = [], b""
        for p in self.payloads:
            if len(acc) >= len(data):
                out.append(p)
            acc += p
        assert acc.startswith(data), f"server stream does not start with {data!r}"
        return out


def _settle(cap: LiveCapture, quiet: float = 0.2, limit: float = 3.0) -> None:
    """Let the sniffer thread catch up: stop only once no frame came for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    seen = -1
    while len(cap.frames) != seen and time.monotonic() < deadline:
        seen = len(cap.frames)
        time.sleep(quiet)


def captured(link: VethLink, port: int, run, directory: Path) -> Wire:  # type: ignore[no-untyped-def]
    """Capture on the host end while ``run()`` talks to the emulator on ``port``."""
    cap = LiveCapture(link.host_if, directory / "wire.pcap", bpf=f"tcp port {port}")
    cap.start()
    try:
        run()
        _settle(cap)
    finally:
        pcap = cap.stop()
    assert pcap is not None and cap.dropped == 0
    conns = [c for c in read_connections(pcap) if c.server[1] == port]
    assert len(conns) == 1, f"{len(conns)} connections to port {port} captured"
    return Wire(conns[0])
