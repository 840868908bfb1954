"""Live capture is complete: thousands of frames injected, capture stopped at once, all in the pcap.

Root only. Frames go in on a tap the test creates (written to its fd, as QEMU
does) and on a veth pair whose far end lives in a network namespace the test
creates (sent from inside the namespace, so they cross the kernel's receive
backlog, asynchronously). ``stop()`` is called the moment the last frame is
written; the pcap must hold every frame, in order, byte for byte, and the
interface's own counters must agree.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from bench.capture.pcap import read_frames
from bench.capture.live import LiveCapture
from bench.capture.tap import TapDevice

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: tap devices, netns, raw sockets")]

GUEST_MAC = "52:54:00:12:34:56"
N = 5000


def _frames(src: str, dst: str, dst_mac: str, n: int = N) -> list[bytes]:
    """``n`` distinct TCP frames of varying size (headers packed by hand: scapy would take seconds)."""
    eth_ip = bytes(Ether(src=GUEST_MAC, dst=dst_mac) / IP(src=src, dst=dst, proto=6))[:34]
    out = []
    for i in range(n):
        payload = b"x" * (i % 1400)
        ip = bytearray(eth_ip[14:])
        ip[2:4] = (40 + len(payload)).to_bytes(2, "big")
        tcp = struct.pack("!HHIIBBHHH", 30000 + i % 1000, 9, i, 0, 5 << 4, 0x10, 5840, 0, 0)
        out.append(eth_ip[:14] + bytes(ip) + tcp + payload)
    return out


def test_tap_frames_injected_then_stopped_at_once_are_all_captured(tmp_path: Path):
    with TapDevice.create(ipv6=False) as tap, tap.attach() as fd:
        cap = LiveCapture(tap.name, tmp_path / "burst.pcap", owned=True)
        cap.start()
        frames = _frames(tap.guest_ip, tap.host_ip, tap.mac)
        for f in frames:
            fd.write(f)
        path = cap.stop()  # at once: no wait for the reader to catch up
        stats = cap.stats
    got = [f.data for f in read_frames(path)]
    mine = [g for g in got if g[6:12] == bytes.fromhex(GUEST_MAC.replace(":", ""))]
    assert len(mine) == N and mine == frames
    assert stats is not None and stats.dropped == 0 and stats.kernel_drops == 0 and stats.unaccounted == 0
    # the host's answers (RSTs to port 9) are seen even when the full tap queue then drops them (tx_dropped)
    assert stats.frames == len(got) >= stats.interface_frames >= N
    assert stats.offloads is not None and stats.offloads["on"] == []
    assert (tmp_path / "burst.capture.json").exists()


class NetnsVeth:
    """A veth pair: ``host`` end here, ``peer`` end in a namespace of its own; both removed on exit."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ns, self.host, self.peer = f"mbcap{tag}", f"mbch{tag}", f"mbcp{tag}"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def __enter__(self) -> NetnsVeth:
        self._ip("netns", "add", self.ns)
        try:
            self._ip("link", "add", self.host, "type", "veth", "peer", "name", self.peer, "netns", self.ns)
            self._ip("link", "set", self.host, "up")
            self._ip("-n", self.ns, "link", "set", self.peer, "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "link", "del", self.host], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=10)

    @property
    def host_mac(self) -> str:
        return Path(f"/sys/class/net/{self.host}/address").read_text().strip()


SENDER = """
import socket, sys
from pathlib import Path
frames = Path(sys.argv[2]).read_bytes().split(b"\\n--frame--\\n")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind((sys.argv[1], 0))
for f in frames:
    s.send(f)
"""


def test_veth_frames_from_a_namespace_stopped_at_once_are_all_captured(tmp_path: Path):
    with NetnsVeth() as veth:
        frames = _frames("192.0.2.2", "192.0.2.1", veth.host_mac)
        blob = tmp_path / "frames.bin"
        blob.write_bytes(b"\n--frame--\n".join(frames))
        assert all(b"\n--frame--\n" not in f for f in frames)
        cap = LiveCapture(veth.host, tmp_path / "veth.pcap", owned=True)
        cap.start()
        subprocess.run(["ip", "netns", "exec", veth.ns, sys.executable, "-c", SENDER, veth.peer, str(blob)],
                       check=True, timeout=60)
        path = cap.stop()
        stats = cap.stats
    got = [f.data for f in read_frames(path)]
    mine = [g for g in got if g[6:12] == bytes.fromhex(GUEST_MAC.replace(":", ""))]
    assert mine == frames
    assert stats is not None and stats.dropped == 0 and stats.frames >= stats.interface_frames >= N
    assert stats.offloads is not None and stats.offloads["on"] == []
    assert not Path(f"/sys/class/net/{veth.host}").exists()


def test_earlier_connections_frames_are_kept_out_of_the_next_capture(tmp_path: Path):
    """A connection seen in capture 1 whose FIN arrives during capture 2 is not in pcap 2."""
    with TapDevice.create(ipv6=False) as tap, tap.attach() as fd:
        def seg(sport: int, flags: str, seq: int = 1) -> bytes:
            return bytes(Ether(src=GUEST_MAC, dst=tap.mac) / IP(src=tap.guest_ip, dst=tap.host_ip)
                         / TCP(sport=sport, dport=25, seq=seq, flags=flags))

        cap = LiveCapture(tap.name, owned=True, linger=0.05)
        cap.start(tmp_path / "one.pcap")
        fd.write(seg(41000, "S", 0))
        fd.write(seg(41000, "PA"))
        cap.stop()
        cap.start(tmp_path / "two.pcap")
        fd.write(seg(41000, "FA"))  # the old connection's tail
        fd.write(seg(41001, "S", 0))  # a new one
        fd.write(seg(41001, "FA"))
        cap.stop()
        stats = cap.stats
    ports = [f.data[34:36] for f in read_frames(tmp_path / "two.pcap") if f.data[23:24] == b"\x06"]
    assert ports == [(41001).to_bytes(2, "big")] * 2
    assert stats is not None and stats.carried_over == 1
