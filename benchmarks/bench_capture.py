"""Capture analysis speed: pcap -> connections -> verdicts, against scapy on the same file.

Builds a capture of many SMTP and POP3 connections (>= 200,000 packets by
default; 60 sessions built with scapy, copied with other client ports), then times, in the same run:
  ours:  read_connections() + check_wire() (and the frame reader alone)
  scapy: rdpcap() + PacketList.sessions()
and prints packets/s for both and the ratio.

    python benchmarks/bench_capture.py [--packets 200000] [--pcap PATH] [--keep]
"""
from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

from bench.capture.pcap import read_frames, write_pcap
from bench.capture.synth import Trace, pop3_session, smtp_session
from bench.capture.tcpflow import read_connections
from bench.checks.verdict import Outcome
from bench.checks.wire import WireLimits, check_wire

LIMITS = WireLimits(mtu=1500, mss=1460, mss6=1440, pop3_payload=120, smtp_payload=1024,
                    pop3_ports=frozenset({110}), smtp_ports=frozenset({25}))
BODY = b"".join(b"line %06d the quick brown fox jumps over the lazy dog\r\n" % k for k in range(300))
MESSAGE = BODY[:BODY.index(b"\r\n", 6000) + 2]


def _csum_fix(csum: int, old: int, new: int) -> int:
    """RFC 1624 incremental checksum update for one 16-bit field."""
    c = (~csum & 0xFFFF) + (~old & 0xFFFF) + new
    c = (c & 0xFFFF) + (c >> 16)
    c = (c & 0xFFFF) + (c >> 16)
    return ~c & 0xFFFF


def _with_port(frame: bytes, old: int, new: int) -> bytes:
    """A copy of an Ethernet/IP/TCP frame with client port ``old`` replaced by ``new`` (checksum kept valid)."""
    b = bytearray(frame)
    tcp = 14 + ((b[14] & 0x0F) * 4 if b[12:14] == b"\x08\x00" else 40)
    for field in (tcp, tcp + 2):
        if struct.unpack_from("!H", b, field)[0] == old:
            struct.pack_into("!H", b, field, new)
            csum = struct.unpack_from("!H", b, tcp + 16)[0]
            struct.pack_into("!H", b, tcp + 16, _csum_fix(csum, old, new))
    return bytes(b)


def build(path: Path, packets: int, templates: int = 60) -> int:
    """Alternating SMTP (IPv4) and POP3 (IPv4/IPv6) sessions: ``templates`` built with scapy,
    then copied with other client ports (checksums patched) up to ``packets`` frames."""
    sessions: list[tuple[int, list[bytes]]] = []
    for n in range(templates):
        t = Trace()
        port = 10000 + n
        isn = (n * 7919 + 1) % (1 << 31)
        if n % 3 == 2:
            dev, srv = ("fec0::15", "fec0::2") if n % 2 == 0 else ("10.0.2.15", "10.0.2.2")
            pop3_session(t, (dev, port), (srv, 110), message=MESSAGE, isn=isn)
        else:
            smtp_session(t, ("10.0.2.15", port), ("10.0.2.2", 25), body=BODY, seg=1024, isn=isn)
        sessions.append((port, [f for _, f in t.frames]))
    out: list[tuple[int, bytes]] = []
    ns, k = 1_700_000_000 * 10**9, 0
    while len(out) < packets:
        port, frames = sessions[k % templates]
        new = 10000 + k % 50000
        for f in frames:
            out.append((ns, f if new == port else _with_port(f, port, new)))
            ns += 100_000
        k += 1
    write_pcap(path, out)
    return len(out)


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--pcap", type=Path, help="use (or create) this capture instead of a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the generated capture")
    ap.add_argument("--skip-scapy", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_capture_"))
    path = args.pcap or tmp / "bench.pcap"
    if not path.exists():
        count, secs = timed(lambda: build(path, args.packets))
        print(f"generated {count} packets (scapy templates, copied) in {secs:.1f} s -> {path} "
              f"({path.stat().st_size / 1e6:.1f} MB)")
    frames, t_read = timed(lambda: sum(1 for _ in read_frames(path)))
    conns, t_conn = timed(lambda: read_connections(path))
    verdicts, t_check = timed(lambda: check_wire(conns, LIMITS, path))
    ours = t_conn + t_check
    failed = sum(v.outcome is not Outcome.PASS for v in verdicts)
    print(f"packets: {frames}, connections: {len(conns)}, verdicts: {len(verdicts)} ({failed} not passed)")
    print(f"ours   frame reader only      {t_read:7.2f} s  {frames / t_read:12,.0f} packets/s")
    print(f"ours   read_connections       {t_conn:7.2f} s  {frames / t_conn:12,.0f} packets/s")
    print(f"ours   check_wire             {t_check:7.2f} s")
    print(f"ours   pcap -> verdicts       {ours:7.2f} s  {frames / ours:12,.0f} packets/s")
    if args.skip_scapy:
        return
    from scapy.utils import rdpcap

    pkts, t_rd = timed(lambda: rdpcap(str(path)))
    sessions, t_sess = timed(lambda: pkts.sessions())
    theirs = t_rd + t_sess
    print(f"scapy  rdpcap                 {t_rd:7.2f} s  {frames / t_rd:12,.0f} packets/s")
    print(f"scapy  sessions()             {t_sess:7.2f} s  ({len(sessions)} one-way sessions, no reassembly)")
    print(f"scapy  rdpcap + sessions()    {theirs:7.2f} s  {frames / theirs:12,.0f} packets/s")
    print(f"ratio  (pcap -> verdicts) vs (rdpcap + sessions): {theirs / ours:.1f}x  (goal >= 20x)")
    if not args.keep and args.pcap is None:
        path.unlink(missing_ok=True)
        tmp.rmdir()


if __name__ == "__main__":
    main()
