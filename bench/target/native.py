"""The native board: the agent SDK and the firmware's protocol code as a Linux
process (``targets/native``), in the blocking style of a NetX Duo port.

Three resources, made and removed by the bench:

- ``VethLink``: a network namespace joined to the host by a veth pair. The
  device end (in the namespace) carries the device's addresses, the host end the
  servers'; offloads are off on both ends so the capture on the host end sees
  the segments the kernel really sent. Root (CAP_NET_ADMIN) is needed.
- ``NativeBoard``: the process, started in the namespace with the master side
  of a pty as its UART. Power-off kills it; ``sys.reset`` re-executes it on the
  same pty.
- ``PtyConsole``: the pty's other side, opened with pyserial.

The TCP behaviour on the wire is the host kernel's, not firmware code: see
``targets/native/README.md`` for which criteria that concerns.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import serial

from bench.config import NetworkConfig
from bench.target.process import spawn, terminate
from bench.target.protocols import TargetError

PREFIX = "mbv"
_names = count()


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise TargetError(f"{argv[0]} is not installed (iproute2 / ethtool)") from None
    if check and res.returncode != 0:
        msg = (res.stderr or res.stdout).strip()
        if "Operation not permitted" in msg:
            raise TargetError(f"{' '.join(argv)}: not permitted; the native board needs root (CAP_NET_ADMIN)")
        raise TargetError(f"{' '.join(argv)}: {msg}")
    return res


@dataclass
class VethLink:
    """A namespace ``netns`` whose interface ``dev_if`` is veth-paired with ``host_if`` on the host."""

    network: NetworkConfig
    netns: str = ""
    host_if: str = ""
    dev_if: str = ""

    def __post_init__(self) -> None:
        n = f"{os.getpid()}x{next(_names)}"
        self.netns = self.netns or f"{PREFIX}{n}"
        self.host_if = self.host_if or f"{PREFIX}{n}h"[:15]
        self.dev_if = self.dev_if or f"{PREFIX}{n}d"[:15]

    def create(self) -> None:
        from bench.capture.tap import subnet_conflict

        net = self.network
        clash = subnet_conflict(f"{net.server_ip}/{net.prefix_len}")
        if clash is not None:
            raise TargetError(f"native board: {net.server_ip}/{net.prefix_len} overlaps {clash}, already in use here")
        ns = ("ip", "netns", "exec", self.netns)
        _run("ip", "netns", "add", self.netns)
        try:
            _run("ip", "link", "add", self.host_if, "mtu", str(net.mtu), "type", "veth",
                 "peer", "name", self.dev_if, "mtu", str(net.mtu), "netns", self.netns)
            _run(*ns, "sysctl", "-qw", f"net.ipv6.conf.{self.dev_if}.accept_ra=0",
                 f"net.ipv6.conf.{self.dev_if}.autoconf=0")
            _run("ip", "addr", "add", f"{net.server_ip}/{net.prefix_len}", "dev", self.host_if)
            _run("ip", "-n", self.netns, "addr", "add", f"{net.device_ip}/{net.prefix_len}", "dev", self.dev_if)
            if net.server_ip6 and net.device_ip6:
                _run("ip", "-6", "addr", "add", f"{net.server_ip6}/64", "dev", self.host_if, "nodad")
                _run("ip", "-6", "-n", self.netns, "addr", "add", f"{net.device_ip6}/64", "dev", self.dev_if,
                     "nodad")
            for end in ((), ns):  # segments as sent: no TSO/GSO super-frames, checksums filled in
                iface = self.dev_if if end else self.host_if
                _run(*end, "ethtool", "-K", iface, "tso", "off", "gso", "off", "gro", "off", "tx", "off",
                     check=False)
            _run("ip", "link", "set", self.host_if, "up")
            _run("ip", "-n", self.netns, "link", "set", "lo", "up")
            _run("ip", "-n", self.netns, "link", "set", self.dev_if, "up")
            _run("ip", "-n", self.netns, "route", "add", "default", "via", net.server_ip)
        except TargetError:
            self.remove()
            raise

    def remove(self) -> None:
        _run("ip", "link", "del", self.host_if, check=False)  # takes its peer with it
        _run("ip", "netns", "del", self.netns, check=False)

    @classmethod
    @contextlib.contextmanager
    def for_network(cls, network: NetworkConfig) -> Iterator[VethLink]:
        link = cls(network)
        link.create()
        try:
            yield link
        finally:
            link.remove()


@dataclass
class NativeBoard:
    """The native agent process in its namespace, its UART a pty."""

    name: str
    link: VethLink
    workdir: Path
    baudrate: int = 115200
    image: Path | None = None
    proc: Any = None
    port: serial.SerialBase | None = None  # the UART, as the console hands it out
    slave_fd: int = -1
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "native.log"

    def flash(self, image: Path) -> None:
        if not image.exists():
            raise TargetError(f"{image} missing: build it with make -C targets/native")
        self.image = image

    def argv(self, uart_fd: int) -> list[str]:
        net = self.link.network
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{net.prefix_len}").netmask)
        args = ["--uart-fd", str(uart_fd), "--ip", net.device_ip, "--mask", mask, "--gw", net.server_ip,
                "--ifname", self.link.dev_if]
        if net.device_ip6:
            args += ["--ip6", net.device_ip6]
        return ["ip", "netns", "exec", self.link.netns, str(self.image), *args]

    def power_on(self) -> None:
        if self.image is None:
            raise TargetError("native board: no image flashed")
        self.power_off()
        master, slave = os.openpty()
        tty.setraw(slave)
        self.slave_fd = slave
        # the console opens before the process starts: pyserial's open flushes
        # the input queue, which would drop a banner already written
        self.port = serial.Serial(os.ttyname(slave), self.baudrate, timeout=0.1)
        try:
            self.proc = spawn(self.argv(master), self.log, pass_fds=(master,))
        finally:
            os.close(master)

    def power_off(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
        if self.port is not None:
            self.port.close()
            self.port = None
        if self.slave_fd >= 0:
            os.close(self.slave_fd)
            self.slave_fd = -1

    def reset(self) -> None:
        self.power_on()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None



class PtyConsole:
    """The native board's UART: the slave side of its pty, opened by the board at power-on."""

    def __init__(self, board: NativeBoard) -> None:
        self.board = board

    def open(self) -> serial.SerialBase:
        if self.board.port is None:
            raise TargetError("native board is off: no UART")
        return self.board.port

    def close(self) -> None:  # the port lives as long as the process
        pass
