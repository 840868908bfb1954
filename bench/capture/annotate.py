"""Annotated capture: a pcapng copy of a run's pcap whose offending packets carry comments.

Every packet cited by a failed (or inconclusive) verdict's pcap evidence gets an
EPB comment "CRITERION FAIL: summary: excerpt [subject]". Frame numbers are
kept, so Wireshark's ``frame.comment contains "NET-WIRE-1"`` lands on them.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from bench.capture.pcap import read_frames
from bench.checks.verdict import Outcome, Verdict

_BOM = 0x1A2B3C4D


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def comments_for(verdicts: Iterable[Verdict], pcap: Path, *, include_passed: bool = False) -> dict[int, list[str]]:
    """Frame number -> comments, from the pcap evidence of non-passing verdicts."""
    target = Path(pcap).resolve()
    out: dict[int, list[str]] = {}
    for v in verdicts:
        if v.outcome is Outcome.PASS and not include_passed:
            continue
        for ev in v.evidence:
            if ev.source != "pcap" or (ev.artifact is not None and Path(ev.artifact).resolve() != target):
                continue
            text = f"{v.criterion} {v.outcome.value.upper()}: {v.summary}: {ev.excerpt}"
            if v.subject:
                text += f" [{v.subject}]"
            for p in ev.packets:
                if text not in out.setdefault(p, []):
                    out[p].append(text)
    return out


def annotate(pcap: Path, verdicts: Iterable[Verdict], out: Path | None = None, *,
             include_passed: bool = False) -> Path:
    """Write ``<pcap stem>.annotated.pcapng`` (or ``out``) next to the pcap; return its path."""
    pcap = Path(pcap)
    verdicts = list(verdicts)
    out = Path(out) if out else pcap.with_name(pcap.stem + ".annotated.pcapng")
    notes = comments_for(verdicts, pcap, include_passed=include_passed)
    failed = sorted({v.criterion for v in verdicts if v.outcome is not Outcome.PASS})
    shb_comment = (f"mailbench wire verdicts: {len(verdicts)} judged, failed: {', '.join(failed) or 'none'}; "
                   f"annotated packets: {len(notes)}").encode()
    ifaces: dict[int, int] = {}
    with open(out, "wb") as f:
        f.write(_block(0x0A0D0D0A, struct.pack("<IHHq", _BOM, 1, 0, -1)
                       + _opt(1, shb_comment) + _opt(0, b"")))
        for frame in read_frames(pcap):
            iface = ifaces.get(frame.linktype)
            if iface is None:
                iface = ifaces[frame.linktype] = len(ifaces)
                f.write(_block(1, struct.pack("<HHI", frame.linktype, 0, 262144)
                               + _opt(9, b"\x09") + _opt(0, b"")))  # tsresol: nanoseconds
            opts = b"".join(_opt(1, c.encode()) for c in notes.get(frame.index, ()))
            if opts:
                opts += _opt(0, b"")
            n = len(frame.data)
            f.write(_block(6, struct.pack("<IIIII", iface, frame.ns >> 32, frame.ns & 0xFFFFFFFF, n, n)
                           + frame.data + b"\0" * (-n % 4) + opts))
    return out


def read_comments(pcapng: Path) -> dict[int, list[str]]:
    """Frame number -> EPB comments of a pcapng file (for tests and tools)."""
    data = Path(pcapng).read_bytes()
    out: dict[int, list[str]] = {}
    off, index = 0, 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 6:
            index += 1
            cap = struct.unpack_from("<I", data, off + 20)[0]
            o, end = off + 28 + cap + (-cap % 4), off + blen - 4
            while o + 4 <= end:
                code, length = struct.unpack_from("<HH", data, o)
                if code == 0:
                    break
                if code == 1:
                    out.setdefault(index, []).append(data[o + 4:o + 4 + length].decode())
                o += 4 + length + (-length % 4)
        elif btype == 3:
            index += 1
        off += blen
    return out
