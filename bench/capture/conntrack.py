"""TCP connections in a run of Ethernet frames: which were seen, which opened, which are still closing."""
from __future__ import annotations

from bench.capture.pcap import ACK, FIN, LINKTYPE_ETHERNET, RST, SYN, tcp_fields


class Conns:
    """TCP connection state across frames: which were seen, which are closing, which are done."""

    def __init__(self) -> None:
        self.keys: set[tuple] = set()  # type: ignore[type-arg]
        self.syn: set[tuple] = set()  # type: ignore[type-arg]
        self._fin: dict[tuple, dict[tuple, int]] = {}  # type: ignore[type-arg]  key -> {src: seq after FIN}
        self._acked: dict[tuple, set[tuple]] = {}  # type: ignore[type-arg]  key -> srcs whose FIN was acked
        self._reset: set[tuple] = set()  # type: ignore[type-arg]

    @staticmethod
    def key(t: tuple) -> tuple:  # type: ignore[type-arg]
        a, b = (t[2], t[4]), (t[3], t[5])
        return (a, b) if a <= b else (b, a)

    def add(self, frame: bytes) -> None:
        t = tcp_fields(LINKTYPE_ETHERNET, frame)
        if t is None:
            return
        k = self.key(t)
        src, flags = (t[2], t[4]), t[8]
        self.keys.add(k)
        if flags & SYN:
            self.syn.add(k)
        if flags & RST:
            self._reset.add(k)
        fins = self._fin.get(k)
        if flags & ACK and fins:
            for fsrc, end in fins.items():
                if fsrc != src and t[7] == end:
                    self._acked.setdefault(k, set()).add(fsrc)
        if flags & FIN:
            self._fin.setdefault(k, {})[src] = (t[6] + len(t[11]) + 1) % (1 << 32)

    def closing(self) -> set[tuple]:  # type: ignore[type-arg]
        """Connections with a FIN on the wire whose close has not completed (both FINs acked)."""
        return {k for k in self._fin if k not in self._reset and len(self._acked.get(k, ())) < 2}
