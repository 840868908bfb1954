"""Where captures come from: QEMU's filter-dump, or a live sniffer on an interface.

Both satisfy ``bench.target.protocols.WireTap`` (``start(pcap)``, ``stop() -> Path``)
and add ``dropped``: frames the source knows it lost (0 for filter-dump, which
writes synchronously; the kernel's PACKET_STATISTICS count for live capture).
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from bench.capture.pcap import write_pcap

SOL_PACKET = 263
PACKET_STATISTICS = 6
IFF_LOOPBACK = 0x8
SO_RCVBUFFORCE = 33  # Linux; the socket module does not export it
DEFAULT_BUFSIZE = 4 << 20
GRANT_HINT = ("run as root, or grant the capability: "
              "sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f {python})")


class CaptureError(RuntimeError):
    """A capture could not be set up or produced nothing; the message says what to do."""


@runtime_checkable
class CaptureSource(Protocol):
    path: Path | None

    def start(self, pcap: Path | None = None) -> None: ...
    def stop(self) -> Path | None: ...
    @property
    def dropped(self) -> int: ...


class FilterDumpCapture:
    """QEMU writes the pcap itself (``-object filter-dump``): exactly the guest NIC's frames."""

    def __init__(self, path: Path | None = None, *, maxlen: int = 65536) -> None:
        self.path = Path(path) if path else None
        self.maxlen = maxlen

    def qemu_args(self, netdev_id: str) -> list[str]:
        """Arguments that make QEMU dump ``netdev_id``'s traffic to ``self.path``."""
        if self.path is None:
            raise CaptureError("FilterDumpCapture: no pcap path set")
        return ["-object", f"filter-dump,id=dump-{netdev_id},netdev={netdev_id},"
                           f"file={self.path},maxlen={self.maxlen}"]

    def start(self, pcap: Path | None = None) -> None:
        if pcap is not None:
            self.path = Path(pcap)
        if self.path is None:
            raise CaptureError("FilterDumpCapture: no pcap path set")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)

    def stop(self) -> Path:
        if self.path is None or not self.path.exists():
            raise CaptureError(f"QEMU wrote no capture at {self.path} (was filter-dump on the netdev?)")
        return self.path

    @property
    def dropped(self) -> int:
        return 0


def is_loopback(iface: str) -> bool:
    try:
        flags = int(Path(f"/sys/class/net/{iface}/flags").read_text(), 16)
    except OSError:
        return iface == "lo"
    return bool(flags & IFF_LOOPBACK)


def check_capture_privilege() -> None:
    """Raise CaptureError (one line, with the fix) unless raw packet sockets may be opened."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError:
        raise CaptureError("live capture needs CAP_NET_RAW: " + GRANT_HINT.format(
            python=os.path.realpath(sys.executable))) from None


class LiveCapture:
    """scapy's AsyncSniffer on one interface, raw frames kept, pcap (ns) written on stop.

    ``start`` returns only once the socket is bound (frames sent before that are
    lost). Loopback is refused unless ``allow_loopback``: it shows every packet
    twice, without direction, with meaningless segment sizes.
    """

    def __init__(self, iface: str, path: Path | None = None, *, bpf: str | None = "tcp or ip6",
                 bufsize: int = DEFAULT_BUFSIZE, allow_loopback: bool = False) -> None:
        self.iface = iface
        self.path = Path(path) if path else None
        self.bpf = bpf
        self.bufsize = bufsize
        self.allow_loopback = allow_loopback
        self.frames: list[tuple[int, bytes]] = []  # (ns, frame)
        self._dropped = 0
        self._sniffer = None
        self._sock = None
        self._written: Path | None = None

    def start(self, pcap: Path | None = None, timeout: float = 5.0) -> None:
        if pcap is not None:
            self.path = Path(pcap)
        if self.path is None:
            raise CaptureError("LiveCapture: no pcap path set")
        if not Path(f"/sys/class/net/{self.iface}").exists():
            raise CaptureError(f"no network interface {self.iface!r} to capture on")
        if is_loopback(self.iface) and not self.allow_loopback:
            raise CaptureError(f"refusing to capture on loopback {self.iface!r}: it duplicates packets and "
                               "its segment sizes are meaningless; use a tap, a NIC or QEMU's filter-dump")
        check_capture_privilege()
        from scapy.config import conf
        from scapy.sendrecv import AsyncSniffer

        conf.bufsize = self.bufsize
        try:
            sock = conf.L2listen(iface=self.iface, filter=self.bpf)
        except Exception as exc:  # scapy raises its own types for BPF / interface trouble
            raise CaptureError(f"cannot open a capture on {self.iface!r}: {exc}") from None
        try:
            sock.ins.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.bufsize)
        except OSError:
            pass  # without CAP_NET_ADMIN the kernel caps SO_RCVBUF at rmem_max
        sock.LL = conf.raw_layer  # keep raw bytes: no dissection while sniffing
        self._sock = sock
        self._read_stats()  # reading PACKET_STATISTICS resets it: forget drops from before the bind
        self.frames = []
        self._dropped = 0
        self._written = None
        ready = threading.Event()
        self._sniffer = AsyncSniffer(opened_socket=sock, store=False, prn=self._keep,
                                     started_callback=ready.set)
        self._sniffer.start()
        if not ready.wait(timeout):
            self._sniffer.stop(join=False)
            raise CaptureError(f"sniffer on {self.iface!r} did not start within {timeout} s")

    def _keep(self, pkt) -> None:  # type: ignore[no-untyped-def]
        self.frames.append((int(round(float(pkt.time) * 1e9)), bytes(pkt)))

    def _read_stats(self) -> None:
        if self._sock is None:
            return
        try:
            raw = self._sock.ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return
        _packets, drops = struct.unpack("II", raw)
        self._dropped += drops

    @property
    def dropped(self) -> int:
        """Frames the kernel dropped for want of buffer space (so far)."""
        self._read_stats()
        return self._dropped

    @property
    def running(self) -> bool:
        return self._sniffer is not None

    def stop(self) -> Path | None:
        """Stop sniffing and write the pcap (frames in arrival order); None if never started."""
        if self._sniffer is None:
            return self._written
        self._read_stats()
        try:
            self._sniffer.stop()
        except Exception:  # the socket may already be gone with its interface
            pass
        self._sniffer = self._sock = None
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._written = write_pcap(self.path, self.frames)
        return self._written


#: the name the target layer uses (``WireTap`` protocol)
LiveWireTap = LiveCapture
