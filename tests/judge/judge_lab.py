"""A lab for ``bench judge``: a veth pair, the client's end in a network namespace the
test creates, the emulators and a live capture on the host's end; all removed after.
(The ``lab`` fixture is registered by this directory's conftest.py.)"""
from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.capture.offload import disable_offloads
from bench.capture.live import LiveCapture

SUBNET, HOST_IP, CLIENT_IP = "198.18.213.0/24", "198.18.213.1", "198.18.213.2"  # benchmarking range (RFC 2544)


def _ip(*args: str) -> None:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")


@dataclass
class Lab:
    ns: str
    host: str
    peer: str
    tmp: Path
    host_ip: str = HOST_IP
    client_ip: str = CLIENT_IP

    def run(self, argv: list[str], *, input: bytes | None = None, timeout: float = 30,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """``argv`` inside the client's namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, input=input,
                              timeout=timeout, env={**os.environ, **(env or {})})

    @contextlib.contextmanager
    def capture(self, name: str) -> Iterator[LiveCapture]:
        cap = LiveCapture(self.host, self.tmp / f"{name}.pcap", owned=True)
        cap.start()
        try:
            yield cap
        finally:
            cap.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, veth, raw sockets")
    from bench.capture.tap import subnet_conflict

    if subnet_conflict(SUBNET) is not None:
        pytest.skip(f"{SUBNET} is routed on this machine")
    tag = uuid.uuid4().hex[:6]
    lab = Lab(f"mbjudge{tag}", f"mbjh{tag}", f"mbjp{tag}", tmp_path)
    _ip("netns", "add", lab.ns)
    try:
        _ip("link", "add", lab.host, "type", "veth", "peer", "name", lab.peer)
        for end in (lab.host, lab.peer):  # honest segment sizes on both sides of the wire
            assert disable_offloads(end).honest
        _ip("link", "set", lab.peer, "netns", lab.ns)
        _ip("addr", "add", f"{HOST_IP}/24", "dev", lab.host)
        _ip("link", "set", lab.host, "up")
        _ip("-n", lab.ns, "addr", "add", f"{CLIENT_IP}/24", "dev", lab.peer)
        _ip("-n", lab.ns, "link", "set", lab.peer, "up")
        _ip("-n", lab.ns, "link", "set", "lo", "up")
        yield lab
    finally:
        subprocess.run(["ip", "link", "del", lab.host], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", lab.ns], capture_output=True, timeout=10)
    assert not Path(f"/sys/class/net/{lab.host}").exists()
