"""Live capture: a plain AF_PACKET socket on one interface, drained before it stops, and what it got (``CaptureStats``)."""
from __future__ import annotations

import json
import logging
import os
import select
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.capture.conntrack import Conns
from bench.capture.offload import OffloadError, Offloads, disable_offloads, read_offloads
from bench.capture.pcap import LINKTYPE_ETHERNET, tcp_fields, write_pcap
from bench.capture.sources import CaptureError
from bench.capture.tap import GRANT_HINT

log = logging.getLogger(__name__)

SOL_PACKET = 263
PACKET_STATISTICS = 6
IFF_LOOPBACK = 0x8
SO_RCVBUFFORCE = 33  # Linux; the socket module does not export it
SO_TIMESTAMPNS = 35  # Linux: kernel receive stamp in ns as ancillary data
ETH_P_ALL = 0x0003
_MAXFRAME = 262144
_CMSG_SPACE = socket.CMSG_SPACE(16)
REBASE_S = 0.02  # when the counters' baseline is read again after the bind (see LiveCapture._reader)
DEFAULT_BUFSIZE = 4 << 20


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
        raise CaptureError("live capture needs CAP_NET_RAW, which this process lacks: " + GRANT_HINT) from None


@dataclass(frozen=True)
class CaptureStats:
    """What one live capture got, and what it knows it did not get."""

    iface: str
    frames: int  # frames written to the pcap
    interface_frames: int | None  # frames the interface counted (rx + tx) while capturing; None with a BPF
    kernel_drops: int  # PACKET_STATISTICS tp_drops: the socket buffer was full
    unaccounted: int  # counted by the interface, never read (after the drain gave up)
    carried_over: int  # frames of connections an earlier capture saw open, left out
    drain_ms: float  # time stop() spent reading what was still queued
    offloads: dict[str, object] | None = None

    @property
    def dropped(self) -> int:
        return self.kernel_drops + self.unaccounted

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "dropped": self.dropped}


def _counters(iface: str) -> int | None:
    """rx + tx packets of the interface, or None when it has none (gone)."""
    try:
        base = Path(f"/sys/class/net/{iface}/statistics")
        return int((base / "rx_packets").read_text()) + int((base / "tx_packets").read_text())
    except (OSError, ValueError):
        return None


class LiveCapture:
    """A plain AF_PACKET socket on one interface, drained before it stops; pcap (ns) written on stop.

    Why not scapy's sniffer or tcpdump: AsyncSniffer.stop() drops what is still
    queued (3,000 injected frames gave 453 in the pcap), and tcpdump ends on a
    signal with its own buffering and only its "dropped by kernel" line to say
    what it lost. A socket the bench reads itself can be drained exactly: a
    reader thread keeps the (``SO_RCVBUFFORCE``-enlarged) kernel buffer empty
    while the test runs, and ``stop`` reads on until the frames read plus the
    kernel's drops (``PACKET_STATISTICS``) equal the interface's own rx + tx
    counters since ``start``: every frame the interface passed is then in the
    pcap or counted as lost (the baseline is read again ``REBASE_S`` after the bind:
    a frame handed to packet sockets just before it can be counted just after).
    Stamps are the kernel's (``SO_TIMESTAMPNS``). With a
    BPF (a shared NIC), the counters include frames the filter rejects, so the
    drain reads until the socket stays empty for ``quiet`` seconds instead.

    After the drain, a connection whose close is under way (a FIN not yet
    answered and acknowledged) is given up to ``linger`` seconds to finish, so
    its last frames land in this pcap and not the next one. Frames of a
    connection an earlier capture of this object saw, with no new SYN, are left
    out (counted as ``carried_over``). ``start`` returns only once the socket is
    bound. Loopback is refused unless ``allow_loopback``: it shows every packet
    twice, without direction, with meaningless segment sizes. On an interface
    the bench created (``owned``), ``start`` turns TSO/GSO/GRO/LRO off; on one it
    was given it only reads them; either way the state goes into the stats.
    """

    def __init__(self, iface: str, path: Path | None = None, *, bpf: str | None = None,
                 bufsize: int = DEFAULT_BUFSIZE, allow_loopback: bool = False, owned: bool = False,
                 linger: float = 0.3, quiet: float = 0.05, max_drain: float = 2.0) -> None:
        self.iface = iface
        self.path = Path(path) if path else None
        self.bpf = bpf
        self.bufsize = bufsize
        self.allow_loopback = allow_loopback
        self.owned = owned
        self.linger, self.quiet, self.max_drain = linger, quiet, max_drain
        self.frames: list[tuple[int, bytes]] = []  # (ns, frame)
        self.stats: CaptureStats | None = None
        self.offloads: Offloads | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._wake = -1  # write end of the pipe that wakes the reader
        self._lock = threading.Lock()
        self._base: int | None = None  # the interface's rx + tx count the drain measures from
        self._base0: int | None = None  # the same, read at the bind (for the stats)
        self._drops = 0
        self._earlier: set[tuple] = set()  # type: ignore[type-arg]
        self._written: Path | None = None

    # ------------------------------------------------------------------ start
    def start(self, pcap: Path | None = None, timeout: float = 5.0) -> None:
        if self._sock is not None:
            self.stop()
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
        self._check_offloads()
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing queued before bind
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.bufsize)
            except OSError:  # without CAP_NET_ADMIN the kernel caps SO_RCVBUF at rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.bufsize)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if self.bpf:
                from scapy.arch.linux import attach_filter

                attach_filter(sock, self.bpf, self.iface)
            sock.bind((self.iface, ETH_P_ALL))
        except Exception as exc:  # scapy raises its own types for BPF trouble
            sock.close()
            raise CaptureError(f"cannot open a capture on {self.iface!r}: {exc}") from None
        sock.setblocking(False)
        self._sock = sock
        self._base = self._base0 = None if self.bpf else _counters(self.iface)
        self._drops = 0
        self._read_drops()  # reading PACKET_STATISTICS resets it
        self.frames, self.stats, self._written = [], None, None
        self._halt.clear()
        wake, self._wake = os.pipe()
        self._thread = threading.Thread(target=self._reader, args=(wake,), name=f"capture-{self.iface}",
                                        daemon=True)
        self._thread.start()

    def _check_offloads(self) -> None:
        try:
            self.offloads = disable_offloads(self.iface) if self.owned else read_offloads(self.iface)
        except OffloadError as exc:
            log.warning("capture on %s: offloads unknown: %s", self.iface, exc)
            self.offloads = None
            return
        if not self.offloads.honest:
            log.warning("capture on %s", self.offloads.describe())

    # ------------------------------------------------------------------ reading
    def _read_available(self) -> int:
        """Read every frame queued now; how many."""
        sock, n = self._sock, 0
        if sock is None:
            return 0
        keep = self.frames.append
        while True:
            try:
                data, anc, _flags, _addr = sock.recvmsg(_MAXFRAME, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return n
            except OSError:  # the interface went away
                return n
            ns = 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                    sec, nsec = struct.unpack_from("qq", payload)
                    ns = sec * 1_000_000_000 + nsec
            keep((ns or time.time_ns(), data))
            n += 1

    def _reader(self, wake: int) -> None:
        sock = self._sock
        rebase = time.monotonic() + REBASE_S if self._base is not None else None
        try:
            while sock is not None and not self._halt.is_set():
                wait = 1.0 if rebase is None else max(0.0, rebase - time.monotonic())
                try:
                    ready, _, _ = select.select([sock, wake], [], [], wait)
                except (OSError, ValueError):
                    return
                with self._lock:
                    if sock in ready:
                        self._read_available()
                    if rebase is not None and time.monotonic() >= rebase and not self._halt.is_set():
                        # a frame the kernel passed to packet sockets just before the bind may be
                        # counted by the interface just after it: read the baseline again once such
                        # a frame is surely counted (frames read before then are in the total anyway)
                        self._base = _counters(self.iface) if self._base is not None else None
                        rebase = None
        finally:
            os.close(wake)

    def _read_drops(self) -> None:
        if self._sock is None:
            return
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return
        self._drops += struct.unpack("II", raw)[1]

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a frame; True if one is queued."""
        if self._sock is None or seconds <= 0:
            return False
        try:
            return bool(select.select([self._sock], [], [], seconds)[0])
        except (OSError, ValueError):
            return False

    @property
    def dropped(self) -> int:
        """Frames lost: the kernel's drops so far, plus (after stop) those the drain never got."""
        if self.stats is not None:
            return self.stats.dropped
        with self._lock:
            self._read_drops()
        return self._drops

    @property
    def running(self) -> bool:
        return self._sock is not None

    # ------------------------------------------------------------------ stop
    def _drain(self) -> tuple[int | None, int]:
        """Read until every frame the interface counted is read or dropped: (counted, shortfall)."""
        t_end = time.monotonic() + self.max_drain
        self._read_available()
        target = _counters(self.iface)
        if self._base is None or target is None:
            while self._wait(min(self.quiet, t_end - time.monotonic())):
                self._read_available()
            return None, 0
        need = target - self._base
        counted = target - (self._base if self._base0 is None else self._base0)
        while True:
            self._read_drops()
            short = need - len(self.frames) - self._drops
            if short <= 0:
                return counted, 0
            if not self._wait(min(self.quiet * 4, t_end - time.monotonic())):
                return counted, short  # nothing more came: those frames are lost
            self._read_available()

    def _settle_closes(self, conns: Conns, upto: int) -> int:
        """Give closes under way up to ``linger`` s to finish; frames folded into ``conns`` so far."""
        t_end = time.monotonic() + self.linger
        while True:
            for _ns, f in self.frames[upto:]:
                conns.add(f)
            upto = len(self.frames)
            if not conns.closing() or not self._wait(t_end - time.monotonic()):
                return upto
            self._read_available()

    def stop(self) -> Path | None:
        """Drain, stop and write the pcap (frames in arrival order); None if never started."""
        if self._sock is None:
            return self._written
        t0 = time.monotonic()
        self._halt.set()
        os.write(self._wake, b"x")
        os.close(self._wake)
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        with self._lock:
            counted, short = self._drain()
            conns = Conns()
            self._settle_closes(conns, 0)
            self._read_drops()
            self._sock.close()
            self._sock = None
        kept, carried = self._drop_carried_over(conns)
        self.stats = CaptureStats(self.iface, len(kept), counted, self._drops, short, carried,
                                  round((time.monotonic() - t0) * 1000, 3),
                                  self.offloads.as_dict() if self.offloads else None)
        self.frames = kept
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._written = write_pcap(self.path, self.frames)
        self.stats_path.write_text(json.dumps(self.stats.as_dict(), indent=1) + "\n")
        if self.stats.dropped:
            log.warning("capture on %s lost %d frame(s) (%d kernel drops, %d unaccounted)", self.iface,
                        self.stats.dropped, self.stats.kernel_drops, self.stats.unaccounted)
        return self._written

    @property
    def stats_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.stem + ".capture.json")

    def _drop_carried_over(self, conns: Conns) -> tuple[list[tuple[int, bytes]], int]:
        """Leave out frames of connections an earlier capture saw, unless this one has their SYN."""
        stale = (conns.keys & self._earlier) - conns.syn
        self._earlier |= conns.keys
        if not stale:
            return self.frames, 0
        kept = [(ns, f) for ns, f in self.frames if (t := tcp_fields(LINKTYPE_ETHERNET, f)) is None
                or Conns.key(t) not in stale]
        return kept, len(self.frames) - len(kept)
