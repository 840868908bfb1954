"""Where captures come from: QEMU's filter-dump here, a live sniffer on an interface in ``bench.capture.live``.

Both satisfy ``bench.target.protocols.WireTap`` (``start(pcap)``, ``stop() -> Path``)
and add ``dropped``: frames the source knows it lost (0 for filter-dump, which
writes synchronously; the kernel's PACKET_STATISTICS count for live capture).
"""
from __future__ import annotations

from pathlib import Path


class CaptureError(RuntimeError):
    """A capture could not be set up or produced nothing; the message says what to do."""


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
