"""Segmentation and receive offloads of a capture interface: read, turn off, record.

A capture taken on an interface with TCP segmentation offload (TSO), generic
segmentation/receive offload (GSO/GRO) or large receive offload (LRO) on can
hold "segments" of tens of kilobytes that were never on the wire: the kernel
hands the packet socket a super-frame before the NIC (or after the NIC) cuts or
merges it. So the bench turns these off on interfaces it creates, and on a NIC
it is given it reads them before it captures and records what it found (the
size verdicts call a frame above the MTU an artefact and name the offload).

This speaks the ethtool ioctl (``SIOCETHTOOL``, the feature-string
commands) directly: no child process, so it works wherever the capture's
CAP_NET_ADMIN does, and needs no package. The hint it prints uses the
``ethtool`` command (Debian package ``ethtool``, installed by scripts/setup),
which reads and sets the same features.
"""
from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
from dataclasses import asdict, dataclass

SIOCETHTOOL = 0x8946
ETHTOOL_GSTRINGS, ETHTOOL_GSSET_INFO, ETHTOOL_GFEATURES, ETHTOOL_SFEATURES = 0x1B, 0x37, 0x3A, 0x3B
ETH_SS_FEATURES = 4
#: each offload and the kernel features (``ethtool -k`` names) that make it up
FEATURES: dict[str, tuple[str, ...]] = {
    "tso": ("tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation",
            "tx-tcp6-segmentation", "tx-tcp-accecn-segmentation"),
    "gso": ("tx-generic-segmentation",),
    "gro": ("rx-gro", "rx-gro-hw", "rx-gro-list"),
    "lro": ("rx-lro",),
}
#: ethtool -K's names for the same offloads
ETHTOOL_NAMES = {"tso": "tso", "gso": "gso", "gro": "gro", "lro": "lro"}


class OffloadError(OSError):
    """The interface's offloads could not be read or set."""


@dataclass(frozen=True)
class Offloads:
    """One interface's offload state; None where the driver does not say."""

    iface: str
    tso: bool | None
    gso: bool | None
    gro: bool | None
    lro: bool | None
    changed_by_bench: bool = False  # the bench turned them off (an interface it created)

    @property
    def on(self) -> tuple[str, ...]:
        """The offloads that are on (each can make captured frames bigger than the wire's)."""
        return tuple(n for n in FEATURES if getattr(self, n))

    @property
    def honest(self) -> bool:
        return not self.on

    @property
    def hint(self) -> str:
        """The command that turns the offloads off, or '' when none is on."""
        if not self.on:
            return ""
        return f"ethtool -K {self.iface} " + " ".join(f"{ETHTOOL_NAMES[n]} off" for n in self.on)

    def describe(self) -> str:
        if not self.on:
            return f"{self.iface}: TSO, GSO, GRO and LRO off" + (" (turned off by the bench)"
                                                                 if self.changed_by_bench else "")
        return (f"{self.iface}: {', '.join(n.upper() for n in self.on)} on: captured frames may be "
                f"larger than any frame on the wire; turn off with `{self.hint}`")

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "on": list(self.on)}


def _ioctl(sock: socket.socket, iface: str, buf: ctypes.Array[ctypes.c_char]) -> None:
    ifr = struct.pack("16sP", iface.encode()[:15], ctypes.addressof(buf))
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)
    except OSError as exc:
        if exc.errno == 1:
            raise OffloadError(1, f"setting offloads on {iface!r} needs CAP_NET_ADMIN (run as root)") from None
        if exc.errno == 19:
            raise OffloadError(19, f"no network interface {iface!r}") from None
        raise OffloadError(exc.errno, f"ethtool ioctl on {iface!r}: {exc.strerror}") from None


def _feature_names(sock: socket.socket, iface: str) -> list[str]:
    info = ctypes.create_string_buffer(struct.pack("IIQI", ETHTOOL_GSSET_INFO, 0, 1 << ETH_SS_FEATURES, 0), 20)
    _ioctl(sock, iface, info)
    count = struct.unpack_from("I", info.raw, 16)[0]
    strings = ctypes.create_string_buffer(struct.pack("III", ETHTOOL_GSTRINGS, ETH_SS_FEATURES, count),
                                          12 + 32 * count)
    _ioctl(sock, iface, strings)
    return [strings.raw[12 + 32 * i:44 + 32 * i].split(b"\0", 1)[0].decode() for i in range(count)]


def _active(sock: socket.socket, iface: str, n: int) -> tuple[list[bool], list[bool]]:
    """Per feature bit: (active, changeable)."""
    blocks = (n + 31) // 32
    buf = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GFEATURES, blocks), 8 + 16 * blocks)
    _ioctl(sock, iface, buf)
    active, changeable = [], []
    for i in range(n):
        avail, _req, act, never = struct.unpack_from("IIII", buf.raw, 8 + 16 * (i // 32))
        bit = 1 << (i % 32)
        active.append(bool(act & bit))
        changeable.append(bool(avail & bit) and not never & bit)
    return active, changeable


def _state(sock: socket.socket, iface: str, changed: bool = False) -> Offloads:
    names = _feature_names(sock, iface)
    active, _ = _active(sock, iface, len(names))
    on = {name for name, a in zip(names, active) if a}
    known = set(names)
    values = [any(f in on for f in feats) if known & set(feats) else None for feats in FEATURES.values()]
    return Offloads(iface, *values, changed_by_bench=changed)


def read_offloads(iface: str) -> Offloads:
    """The interface's TSO/GSO/GRO/LRO state (needs no privilege)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return _state(s, iface)


def disable_offloads(iface: str) -> Offloads:
    """Turn every TSO, GSO, GRO and LRO feature off (CAP_NET_ADMIN); the state read back afterwards.

    A feature the driver cannot change ("[fixed]") is left as it is and shows in
    the returned state; the caller decides whether that is acceptable.
    """
    wanted_off = {f for feats in FEATURES.values() for f in feats}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        names = _feature_names(s, iface)
        active, changeable = _active(s, iface, len(names))
        blocks = (len(names) + 31) // 32
        valid = [0] * blocks
        for i, name in enumerate(names):
            if name in wanted_off and active[i] and changeable[i]:
                valid[i // 32] |= 1 << (i % 32)  # requested stays 0: off
        if any(valid):
            body = b"".join(struct.pack("II", v, 0) for v in valid)
            _ioctl(s, iface, ctypes.create_string_buffer(struct.pack("II", ETHTOOL_SFEATURES, blocks) + body,
                                                         8 + 8 * blocks))
        return _state(s, iface, changed=True)
