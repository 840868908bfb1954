"""Tap devices for the emulated board: create, address, attach, and always remove.

A tap has carrier only while a process holds its fd: QEMU holds it with
``-netdev tap,ifname=NAME,script=no,downscript=no``; tests without QEMU hold it
with ``TapDevice.attach()`` and inject/read frames themselves. The subnet must
not be one any route on the machine uses (a tap on eth0's subnet drops every
injected frame). Names are ``mbt<pid>x<n>``: devices whose process is gone are
swept at the next start; SIGTERM/SIGHUP and interpreter exit also clean up.
"""
from __future__ import annotations

import atexit
import fcntl
import ipaddress
import json
import os
import re
import select
import signal
import struct
import subprocess
import threading
from dataclasses import dataclass, field
from itertools import count
from typing import Any

PREFIX = "mbt"
_NAME_RE = re.compile(rf"^{PREFIX}(\d+)x\d+$")
CANDIDATE_SUBNETS = ("198.51.100.0/24", "203.0.113.0/24", "10.213.7.0/24", "172.31.213.0/24")
CANDIDATE_SUBNETS6 = ("fd6d:6265:6e63:1::/64", "fd6d:6265:6e63:2::/64")
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000

_live: dict[str, TapDevice] = {}
_lock = threading.Lock()
_names = count()
_handlers_installed = False


class TapError(RuntimeError):
    """A tap device could not be created, addressed or attached."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise TapError("the 'ip' command (iproute2) is not installed") from None
    if check and res.returncode != 0:
        msg = res.stderr.strip() or res.stdout.strip()
        if "Operation not permitted" in msg:
            raise TapError(f"ip {' '.join(args)}: not permitted; run as root or grant CAP_NET_ADMIN") from None
        raise TapError(f"ip {' '.join(args)}: {msg}")
    return res


def used_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Networks the machine already routes or has addresses in (defaults excluded)."""
    nets: list[Any] = []
    for fam in ("-4", "-6"):
        for r in json.loads(_ip("-j", fam, "route").stdout or "[]"):
            dst = r.get("dst", "")
            if dst and dst != "default":
                nets.append(ipaddress.ip_network(dst if "/" in dst else dst + ("/32" if fam == "-4" else "/128"),
                                                 strict=False))
    for link in json.loads(_ip("-j", "addr").stdout or "[]"):
        for a in link.get("addr_info", []):
            if a.get("scope") == "host":
                continue
            nets.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    return nets


def subnet_conflict(net: Any) -> Any | None:
    """The first used network overlapping ``net`` (same family), or None."""
    net = ipaddress.ip_network(net, strict=False)
    return next((u for u in used_networks() if u.version == net.version and u.overlaps(net)), None)


def free_subnet(candidates: tuple[str, ...] = CANDIDATE_SUBNETS) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    for c in candidates:
        if subnet_conflict(c) is None:
            return ipaddress.ip_network(c)
    raise TapError(f"every candidate subnet is in use: {', '.join(candidates)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete bench taps left by processes that no longer exist; their names."""
    gone = []
    for link in json.loads(_ip("-j", "link", "show", check=False).stdout or "[]"):
        m = _NAME_RE.match(link.get("ifname", ""))
        if m and not _pid_alive(int(m.group(1))):
            _ip("link", "del", link["ifname"], check=False)
            gone.append(link["ifname"])
    return gone


def _cleanup_all() -> None:
    with _lock:
        taps = list(_live.values())
    for t in taps:
        t.remove()


def _on_signal(signum: int, _frame: Any) -> None:
    _cleanup_all()
    raise SystemExit(128 + signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)


@dataclass
class TapDevice:
    """One tap: the host's side carries ``host_ip``; the guest behind it uses ``guest_ip``."""

    name: str
    host_ip: str
    guest_ip: str
    prefix_len: int = 24
    host_ip6: str | None = None
    guest_ip6: str | None = None
    prefix_len6: int = 64
    mtu: int = 1500
    created: bool = field(default=False, init=False)

    @classmethod
    def create(cls, *, ipv6: bool = True, mtu: int = 1500, name: str | None = None) -> TapDevice:
        """A tap on a subnet nothing else uses: host .1, guest .2 (::1 / ::2 for IPv6)."""
        net = free_subnet()
        hosts = iter(net.hosts())
        host, guest = str(next(hosts)), str(next(hosts))
        h6 = g6 = None
        if ipv6:
            n6 = free_subnet(CANDIDATE_SUBNETS6)
            h6, g6 = str(n6.network_address + 1), str(n6.network_address + 2)
        return cls(name or cls.new_name(), host, guest, net.prefixlen, h6, g6, mtu=mtu)

    @classmethod
    def for_network(cls, network: Any) -> TapDevice:
        """From a target file's [network]: host = server_ip, guest = device_ip, name = interface."""
        server6 = getattr(network, "server_ip6", None)
        return cls(getattr(network, "interface", "") or cls.new_name(), network.server_ip, network.device_ip,
                   getattr(network, "prefix_len", 24), server6 or None, None, mtu=getattr(network, "mtu", 1500))

    @staticmethod
    def new_name() -> str:
        return f"{PREFIX}{os.getpid()}x{next(_names)}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(f"{self.host_ip}/{self.prefix_len}", strict=False)  # type: ignore[return-value]

    @property
    def mac(self) -> str:
        """The host side's MAC: frames injected as the guest must be addressed to it."""
        with open(f"/sys/class/net/{self.name}/address") as f:
            return f.read().strip()

    def up(self) -> TapDevice:
        """Create, address and bring up the device (sweeping stale bench taps first)."""
        sweep_stale()
        if len(self.name) > 15:
            raise TapError(f"tap name {self.name!r} longer than 15 characters")
        if _ip("link", "show", self.name, check=False).returncode == 0:
            raise TapError(f"a network device named {self.name!r} already exists")
        for net in filter(None, (self.subnet, self.host_ip6 and f"{self.host_ip6}/{self.prefix_len6}")):
            clash = subnet_conflict(net)
            if clash is not None:
                raise TapError(f"tap subnet {net} overlaps {clash}, already routed on this machine "
                               "(see `ip route`); choose another, e.g. 198.51.100.0/24")
        _install_handlers()
        _ip("tuntap", "add", "dev", self.name, "mode", "tap")
        self.created = True
        with _lock:
            _live[self.name] = self
        try:
            _ip("link", "set", self.name, "mtu", str(self.mtu))
            _ip("addr", "add", f"{self.host_ip}/{self.prefix_len}", "dev", self.name)
            if self.host_ip6:
                _ip("-6", "addr", "add", f"{self.host_ip6}/{self.prefix_len6}", "dev", self.name, "nodad")
            _ip("link", "set", self.name, "up")
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Delete the device (idempotent)."""
        with _lock:
            _live.pop(self.name, None)
        if self.created:
            self.created = False
            _ip("link", "del", self.name, check=False)

    def __enter__(self) -> TapDevice:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def attach(self) -> TapFd:
        """Hold the tap's fd (carrier on) to inject and read frames as the guest would."""
        return TapFd(self.name)

    def qemu_args(self, netdev_id: str = "n0", model: str = "lan9118") -> list[str]:
        return ["-netdev", f"tap,id={netdev_id},ifname={self.name},script=no,downscript=no",
                "-net", f"nic,netdev={netdev_id},model={model}"]


class TapFd:
    """The guest's end of a tap: whole Ethernet frames in and out."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError as exc:
            os.close(self.fd)
            raise TapError(f"cannot attach to tap {name!r}: {exc}") from None

    def write(self, frame: bytes) -> None:
        os.write(self.fd, frame)

    def read(self, timeout: float = 1.0) -> bytes | None:
        """The next frame the host sent into the tap, or None after ``timeout`` seconds."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return os.read(self.fd, 65536) if ready else None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> TapFd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
