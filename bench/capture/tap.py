"""Tap devices for the emulated board: create, address, attach, and always remove.

The bench creates a tap with the TUNSETIFF ioctl (not a child ``ip``, which
would not inherit the bench's capabilities) and addresses it over netlink
(pyroute2). The tap is not persistent: it exists while a process holds its fd.
The bench holds it and QEMU inherits it (``-netdev tap,fd=N``), so when both
are gone, even by SIGKILL (QEMU dies with the bench), the kernel removes the
device. Tests without QEMU inject/read frames through ``TapDevice.attach()``.

Names are ``mbt<pid>x<n>`` and the subnet is one no route on the machine uses
(a tap on eth0's subnet drops every injected frame): each run gets its own,
chosen under a host-wide lock so two runs at once never pick the same. What a
bench made is recorded in its state file (``bench.runtime``), and the next run
removes what a dead one left.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import select
import struct
import subprocess
import threading
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from bench import runtime, signals

PREFIX = "mbt"
_NAME_RE = re.compile(rf"^{PREFIX}(\d+)x\d+$")
CANDIDATE_SUBNETS = ("198.51.100.0/24", "203.0.113.0/24", "10.213.7.0/24", "172.31.213.0/24",
                     "10.213.8.0/24", "10.213.9.0/24", "172.31.214.0/24", "172.31.215.0/24")
CANDIDATE_SUBNETS6 = tuple(f"fd6d:6265:6e63:{k:x}::/64" for k in range(1, 9))
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
IFA_F_NODAD = 0x02
#: a grant that works: ambient capabilities reach this run (and the children it starts) only;
#: never setcap on an interpreter, which would hand them to every script it runs
GRANT_HINT = ("run the bench as root, or give just this run the capabilities: "
              "sudo setpriv --reuid=$(id -u) --regid=$(id -g) --init-groups "
              "--inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw .venv/bin/bench run ...")

_live: dict[str, TapDevice] = {}
_lock = threading.Lock()
_names = count()
_atexit_installed = False


class TapError(RuntimeError):
    """A tap device could not be created, addressed or attached."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Read-only queries (routes, addresses, links): no privilege needed."""
    try:
        res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise TapError("the 'ip' command (iproute2) is not installed") from None
    if check and res.returncode != 0:
        raise TapError(f"ip {' '.join(args)}: {res.stderr.strip() or res.stdout.strip()}")
    return res


@contextlib.contextmanager
def _netlink() -> Any:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        yield ipr


def _not_permitted(what: str) -> TapError:
    return TapError(f"{what} needs CAP_NET_ADMIN, which this process lacks: {GRANT_HINT}")


def ifindex(name: str) -> int | None:
    try:
        return int(open(f"/sys/class/net/{name}/ifindex").read())
    except (OSError, ValueError):
        return None


def delete_link(name: str, index: int | None = None) -> bool:
    """Delete network device ``name`` (only if its ifindex is still ``index``, when given)."""
    now = ifindex(name)
    if now is None or (index is not None and now != index):
        return False
    try:
        with _netlink() as ipr:
            ipr.link("del", index=now)
    except Exception:  # noqa: BLE001 - gone meanwhile, or not ours to delete
        return ifindex(name) is None
    return True


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
    """Delete what dead benches left: everything their state files list, and ``mbt<pid>x<n>``
    taps whose pid is gone (older runs); the names of the taps removed."""
    gone = [r.split(" ", 1)[1] for r in runtime.sweep() if r.startswith("tap ")]
    for link in json.loads(_ip("-j", "link", "show", check=False).stdout or "[]"):
        m = _NAME_RE.match(link.get("ifname", ""))
        if m and not _pid_alive(int(m.group(1))) and delete_link(link["ifname"]):
            gone.append(link["ifname"])
    return gone


def _cleanup_all() -> None:
    with _lock:
        taps = list(_live.values())
    for t in taps:
        t.remove()


def _same_offset(addr: str, old: Any, new: Any) -> str:
    """``addr``'s host part within ``old`` network, moved into ``new``."""
    return str(new.network_address + (int(ipaddress.ip_address(addr)) - int(old.network_address)))


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
    #: another free subnet may be taken when this one is in use (another run's tap)
    movable: bool = False
    created: bool = field(default=False, init=False)
    fd: int = field(default=-1, init=False)

    @classmethod
    def create(cls, *, ipv6: bool = True, mtu: int = 1500, name: str | None = None) -> TapDevice:
        """A tap on a subnet nothing else uses: host .1, guest .2 (::1 / ::2 for IPv6)."""
        net = ipaddress.ip_network(CANDIDATE_SUBNETS[0])
        n6 = ipaddress.ip_network(CANDIDATE_SUBNETS6[0])
        h6, g6 = (str(n6.network_address + 1), str(n6.network_address + 2)) if ipv6 else (None, None)
        return cls(name or cls.new_name(), str(net.network_address + 1), str(net.network_address + 2),
                   net.prefixlen, h6, g6, mtu=mtu, movable=True)

    @classmethod
    def for_network(cls, network: Any) -> TapDevice:
        """From a target file's [network]: host = server_ip, guest = device_ip, name = interface
        (a name of its own per run when the file gives none); the subnet moves when another run has it."""
        return cls(getattr(network, "interface", "") or cls.new_name(), network.server_ip, network.device_ip,
                   getattr(network, "prefix_len", 24), getattr(network, "server_ip6", None) or None,
                   getattr(network, "device_ip6", None) or None, mtu=getattr(network, "mtu", 1500), movable=True)

    @staticmethod
    def new_name() -> str:
        return f"{PREFIX}{os.getpid()}x{next(_names)}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(f"{self.host_ip}/{self.prefix_len}", strict=False)  # type: ignore[return-value]

    @property
    def subnet6(self) -> ipaddress.IPv6Network | None:
        if not self.host_ip6:
            return None
        return ipaddress.ip_network(f"{self.host_ip6}/{self.prefix_len6}", strict=False)  # type: ignore[return-value]

    @property
    def mac(self) -> str:
        """The host side's MAC: frames injected as the guest must be addressed to it."""
        with open(f"/sys/class/net/{self.name}/address") as f:
            return f.read().strip()

    def _place(self) -> None:
        """Keep the subnets when free; a movable tap takes the next free candidate, same host parts."""
        clash = subnet_conflict(self.subnet)
        if clash is not None:
            if not self.movable:
                raise TapError(f"tap subnet {self.subnet} overlaps {clash}, already routed on this machine "
                               "(see `ip route`); choose another, e.g. 198.51.100.0/24")
            old, new = self.subnet, free_subnet(tuple(c for c in CANDIDATE_SUBNETS if int(c.split("/")[1]) ==
                                                       self.prefix_len) or CANDIDATE_SUBNETS)
            self.host_ip, self.guest_ip = _same_offset(self.host_ip, old, new), _same_offset(self.guest_ip, old, new)
        sub6 = self.subnet6
        if sub6 is not None and subnet_conflict(sub6) is not None:
            if not self.movable:
                raise TapError(f"tap subnet {sub6} overlaps {subnet_conflict(sub6)}, already routed on this machine")
            new6 = free_subnet(CANDIDATE_SUBNETS6)
            self.host_ip6 = _same_offset(self.host_ip6 or "", sub6, new6)
            if self.guest_ip6:
                self.guest_ip6 = _same_offset(self.guest_ip6, sub6, new6)
            self.prefix_len6 = new6.prefixlen

    def up(self) -> TapDevice:
        """Create, address and bring up the device (removing what dead benches left first)."""
        global _atexit_installed
        sweep_stale()
        if len(self.name) > 15:
            raise TapError(f"tap name {self.name!r} longer than 15 characters")
        if ifindex(self.name) is not None:
            raise TapError(f"a network device named {self.name!r} already exists (not made by a bench "
                           "that is gone); remove it or leave [network] interface empty for a name per run")
        if not _atexit_installed:
            atexit.register(_cleanup_all)
            _atexit_installed = True
        from bench.servers.base import host_has_ipv6

        if self.host_ip6 and not host_has_ipv6():  # degrade: the IPv4 side still works
            self.host_ip6 = self.guest_ip6 = None
        with runtime.host_lock("tap-subnets"):  # two runs never pick the same subnet
            self._place()
            self._open()
            try:
                self._address()
            except BaseException:
                self.remove()
                raise
        return self

    def _open(self) -> None:
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        except PermissionError:
            mode = oct(os.stat("/dev/net/tun").st_mode & 0o777)
            raise TapError(f"creating tap {self.name!r}: /dev/net/tun (mode {mode}) cannot be opened by this user; "
                           f"run the bench as root, or make it 0666 (Debian's default) and: {GRANT_HINT}") from None
        except FileNotFoundError:
            raise TapError("no /dev/net/tun: load the tun module (modprobe tun)") from None
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", self.name.encode(), IFF_TAP | IFF_NO_PI))
        except PermissionError:
            os.close(fd)
            raise _not_permitted(f"creating tap {self.name!r}") from None
        except OSError as exc:
            os.close(fd)
            raise TapError(f"cannot create tap {self.name!r}: {exc.strerror}") from None
        self.fd, self.created = fd, True
        with _lock:
            _live[self.name] = self
        signals.on_emergency(self.remove)
        runtime.own_tap(self.name, ifindex(self.name) or 0)

    def _address(self) -> None:
        index = ifindex(self.name)
        try:
            with _netlink() as ipr:
                ipr.link("set", index=index, mtu=self.mtu)
                ipr.addr("add", index=index, address=self.host_ip, prefixlen=self.prefix_len)
                if self.host_ip6:
                    ipr.addr("add", index=index, address=self.host_ip6, prefixlen=self.prefix_len6, flags=IFA_F_NODAD)
                ipr.link("set", index=index, state="up")
        except Exception as exc:  # pyroute2's NetlinkError carries the errno
            if getattr(exc, "code", None) == 1:  # EPERM
                raise _not_permitted(f"addressing tap {self.name!r}") from None
            raise TapError(f"cannot address tap {self.name!r}: {exc}") from None

    def remove(self) -> None:
        """Close the device's fd and delete it (idempotent)."""
        with _lock:
            _live.pop(self.name, None)
        if not self.created:
            return
        self.created = False
        fd, self.fd = self.fd, -1
        with contextlib.suppress(OSError):
            os.close(fd)
        delete_link(self.name)  # still there while a process (a QEMU being stopped) holds it
        signals.forget_emergency(self.remove)
        runtime.disown_tap(self.name)

    def __enter__(self) -> TapDevice:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def attach(self) -> TapFd:
        """The guest's end (carrier on) to inject and read frames as the guest would."""
        if self.fd < 0:
            raise TapError(f"tap {self.name!r} is not up")
        return TapFd(self.name, os.dup(self.fd))

    def qemu_args(self, netdev_id: str = "n0", model: str = "lan9118") -> list[str]:
        """QEMU's arguments for this tap; QEMU must inherit ``self.fd`` (``pass_fds``)."""
        return ["-netdev", f"tap,id={netdev_id},fd={self.fd}",
                "-net", f"nic,netdev={netdev_id},model={model}"]


class TapFd:
    """The guest's end of a tap: whole Ethernet frames in and out."""

    def __init__(self, name: str, fd: int | None = None) -> None:
        self.name = name
        if fd is not None:  # a duplicate of the creator's fd (a non-persistent tap has one queue)
            self.fd = fd
            return
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
