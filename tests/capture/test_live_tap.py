"""Live capture on a real tap with real kernel TCP traffic (root only).

The test plays the guest: it holds the tap's fd (so the tap has carrier),
answers ARP, and speaks TCP by hand to a kernel socket listening on the host's
tap address. The sniffer must see every frame once, and the pcap must reassemble.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

from bench.capture.pcap import ACK, FIN, SYN, decode_tcp, read_frames
from bench.capture.live import LiveCapture
from bench.capture.sources import CaptureError
from bench.capture.tap import TapDevice, TapFd
from bench.capture.tcpflow import read_connections
from bench.checks.wire import WireLimits, check_wire

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: tap devices and raw sockets")]

GUEST_MAC = "52:54:00:12:34:56"


class Guest:
    """A hand-driven TCP client behind the tap."""

    def __init__(self, fd: TapFd, tap: TapDevice, sport: int, dport: int) -> None:
        self.fd, self.tap, self.sport, self.dport = fd, tap, sport, dport
        self.host_mac = tap.mac  # TCP drops frames not addressed to the tap (PACKET_HOST)
        self.seq, self.ack = 7000, 0
        self.received = b""
        self.peer_fin = False
        self.syn_ack_mss: int | None = None

    def send(self, flags: str, payload: bytes = b"", mss: int | None = None) -> None:
        opts = [("MSS", mss)] if mss else []
        pkt = (Ether(src=GUEST_MAC, dst=self.host_mac)
               / IP(src=self.tap.guest_ip, dst=self.tap.host_ip)
               / TCP(sport=self.sport, dport=self.dport, seq=self.seq, ack=self.ack, flags=flags,
                     window=5840, options=opts) / payload)
        self.fd.write(bytes(pkt))
        self.seq = (self.seq + len(payload) + (1 if "S" in flags or "F" in flags else 0)) % (1 << 32)

    def pump(self, until, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
        """Read frames (answering ARP, ACKing data) until ``until()`` or timeout."""
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            assert left > 0, "guest timed out waiting for the host"
            frame = self.fd.read(left)
            if frame is None:
                continue
            eth = Ether(frame)
            if ARP in eth and eth[ARP].op == 1 and eth[ARP].pdst == self.tap.guest_ip:
                self.host_mac = eth.src
                self.fd.write(bytes(Ether(src=GUEST_MAC, dst=eth.src) / ARP(
                    op=2, hwsrc=GUEST_MAC, psrc=self.tap.guest_ip, hwdst=eth.src, pdst=eth[ARP].psrc)))
                continue
            p = decode_tcp(1, frame)
            if p is None or p.dport != self.sport:
                continue
            self.host_mac = eth.src
            if p.flags & SYN and p.flags & ACK:
                self.syn_ack_mss = p.mss
                self.ack = (p.seq + 1) % (1 << 32)
                continue
            if p.payload:
                self.received += p.payload
                self.ack = (p.seq + len(p.payload)) % (1 << 32)
                self.send("A")
            if p.flags & FIN:
                self.peer_fin = True
                self.ack = (p.seq + len(p.payload) + 1) % (1 << 32)
                self.send("A")


def _serve(listener: socket.socket, got: list[bytes]) -> None:
    conn, _ = listener.accept()
    with conn:
        data = b""
        while not data.endswith(b"\r\n"):
            data += conn.recv(100)
        conn.sendall(b"250 hello guest\r\n")
        while chunk := conn.recv(100):
            data += chunk
        got.append(data)


def test_live_capture_on_tap_sees_real_tcp(tmp_path: Path):
    with TapDevice.create(ipv6=False) as tap, tap.attach() as fd:
        listener = socket.create_server((tap.host_ip, 0))
        port = listener.getsockname()[1]
        got: list[bytes] = []
        server = threading.Thread(target=_serve, args=(listener, got), daemon=True)
        server.start()
        cap = LiveCapture(tap.name, tmp_path / "live.pcap")
        cap.start()
        g = Guest(fd, tap, 40123, port)
        g.send("S", mss=1460)
        g.pump(lambda: g.ack != 0)
        g.send("A")
        g.send("PA", b"EHLO guest\r\n")
        g.pump(lambda: g.received.endswith(b"\r\n"))
        g.send("FA")
        g.pump(lambda: g.peer_fin)
        server.join(5)
        listener.close()
        time.sleep(0.05)
        path = cap.stop()
        dropped = cap.dropped
    assert got == [b"EHLO guest\r\n"]
    assert dropped == 0
    conns = read_connections(path)
    assert len(conns) == 1
    c = conns[0]
    assert c.client == (tap.guest_ip, 40123) and c.server == (tap.host_ip, port)
    assert c.c2s.stream == b"EHLO guest\r\n" and c.s2c.stream == b"250 hello guest\r\n"
    assert c.c2s.syn_mss == 1460 and c.s2c.syn_mss == 1460 == g.syn_ack_mss
    assert c.closed_by == "client" and c.s2c.fin
    assert not any(s.retransmission for s in c.c2s.segments + c.s2c.segments)
    # each frame once: the guest sent SYN, ACK, data, FIN and one ACK per host data/FIN segment
    flags = [s.flags for s in c.c2s.segments]
    assert flags[:3] == ["S", "A", "PA"] and flags.count("FA") == 1
    assert len({(s.seq, s.ack, s.flags) for s in c.c2s.segments}) == len(c.c2s.segments)
    limits = WireLimits(1500, 1460, 1440, 120, 1024, smtp_ports=frozenset({port}),
                        device_ips=frozenset({tap.guest_ip}))
    outcomes = {v.criterion: v.outcome.value for v in check_wire(conns, limits, path)}
    assert outcomes["NET-WIRE-1"] == "pass" and outcomes["NET-WIRE-2"] == "pass"
    assert not Path(f"/sys/class/net/{tap.name}").exists()


def test_live_capture_keeps_a_burst(tmp_path: Path):
    """2000 frames injected back to back: all captured, none dropped (1 MiB+ socket buffer)."""
    with TapDevice.create(ipv6=False) as tap, tap.attach() as fd:
        cap = LiveCapture(tap.name, tmp_path / "burst.pcap", bpf=f"tcp and src host {tap.guest_ip}")
        cap.start()
        base = Ether(src=GUEST_MAC, dst=tap.mac) / IP(src=tap.guest_ip, dst=tap.host_ip)
        frames = [bytes(base / TCP(sport=30000 + i % 1000, dport=9, seq=i, flags="A") / (b"x" * 100))
                  for i in range(2000)]
        for f in frames:
            fd.write(f)
        deadline = time.monotonic() + 5
        while len(cap.frames) < 2000 and time.monotonic() < deadline:
            time.sleep(0.02)
        path = cap.stop()
        assert cap.dropped == 0
    got = [f.data for f in read_frames(path)]
    assert got == frames


def test_loopback_refused_and_missing_interface():
    with pytest.raises(CaptureError, match="refusing to capture on loopback"):
        LiveCapture("lo", Path("/tmp/never.pcap")).start()
    with pytest.raises(CaptureError, match="no network interface"):
        LiveCapture("nosuchif0", Path("/tmp/never.pcap")).start()


def test_unprivileged_capture_error_is_one_line():
    code = ("from bench.capture.live import LiveCapture\nfrom bench.capture.sources import CaptureError\n"
            "try:\n    LiveCapture('eth0', '/tmp/x.pcap').start()\n"
            "except CaptureError as e:\n    print(e)\n")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    res = subprocess.run(["setpriv", "--bounding-set", "-net_raw", sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=60)
    out = res.stdout.strip()
    assert res.returncode == 0 and "\n" not in out, res.stderr
    assert out.startswith("live capture needs CAP_NET_RAW") and "--ambient-caps=+net_admin,+net_raw" in out
    assert "setcap" not in out  # never on a shared interpreter


def test_tap_removed_after_sigterm_and_after_sigkill():
    """SIGTERM: removed on the way out. SIGKILL: the tap is not persistent, the kernel removes it
    with the last fd (what a killed bench's state file lists is swept: tests/orchestrator)."""
    code = ("import time\nfrom bench.capture.tap import TapDevice\n"
            "t = TapDevice.create(ipv6=False).up()\nprint(t.name, flush=True)\ntime.sleep(60)\n")
    for stop in ("terminate", "kill"):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        name = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert Path(f"/sys/class/net/{name}").exists()
        getattr(proc, stop)()
        proc.wait(10)
        deadline = time.monotonic() + 30  # liveness: the kernel unregisters a device slowly under load
        while Path(f"/sys/class/net/{name}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/sys/class/net/{name}").exists(), f"tap left after {stop}"


def test_tap_refuses_a_routed_subnet():
    from bench.capture.tap import TapError, used_networks
    busy = next((n for n in used_networks() if n.version == 4 and not n.is_loopback), None)
    if busy is None:
        pytest.skip("no IPv4 route to collide with")
    host = str(next(iter(busy.hosts())))
    with pytest.raises(TapError, match="overlaps"):
        TapDevice(TapDevice.new_name(), host, host).up()
