"""``bench doctor TARGET``: is this host ready to judge firmware on that target?

Each probe looks at one thing the target file needs (the emulator, gdb, pyocd
and its probe by unique id, the serial port, the NIC and its offloads, capture
and tap privileges, the image and its sha256) and returns a ``Finding``: data,
rendered by the CLI as one table. Nothing is changed on the host. A finding that
is ``needed`` and not ``ok`` makes the exit status non-zero, so a CI job can run
the doctor before the suite and tell a broken bench from rejected firmware.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.config import TargetConfig
from bench.report.identity import manifest_entry, sha256_of, shown

CAP_NET_ADMIN, CAP_NET_RAW = 12, 13


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    needed: bool = True  # False: reported, but the target can run without it


def _capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def has_capability(bit: int) -> bool:
    return os.geteuid() == 0 or bool(_capabilities() & (1 << bit))


def _tool(name: str, version_arg: str = "--version") -> Finding:
    exe = shutil.which(name)
    if exe is None:
        return Finding(name, False, "not installed (see scripts/setup for the Debian package)")
    try:
        out = subprocess.run([exe, version_arg], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(name, False, f"{exe} does not run: {exc}")
    first = out.strip().splitlines()[0] if out.strip() else exe
    return Finding(name, True, first)


def _image(cfg: TargetConfig, image: Path | None) -> Finding:
    path = image or cfg.board.image
    if not path.is_file():
        hint = " (scripts/setup builds the reference firmware)" if cfg.board.driver == "qemu" else ""
        return Finding("image", False, f"{path} not found{hint}")
    digest = sha256_of(path)
    detail = f"{shown(path)} sha256 {digest} ({path.stat().st_size:,} bytes)"
    entry = manifest_entry(digest)
    if entry:
        detail += f"; reference build for {entry.get('target')} ({entry.get('compiler', '?')})"
    return Finding("image", True, detail)


def _pyocd_probe(uid: str) -> Iterator[Finding]:
    try:
        from pyocd.probe.aggregator import DebugProbeAggregator
    except ImportError:
        yield Finding("pyocd", False, "not installed: pip install 'mailbench[real]'")
        return
    import pyocd

    yield Finding("pyocd", True, f"pyocd {pyocd.__version__}")
    probes = DebugProbeAggregator.get_all_connected_probes(unique_id=uid or None)
    want = f"probe {uid}" if uid else "a debug probe"
    if probes:
        yield Finding("debug probe", True, ", ".join(f"{p.description} ({p.unique_id})" for p in probes))
    else:
        yield Finding("debug probe", False, f"{want} not attached (`pyocd list` shows what is)")


def _gdb_server(server: str) -> Finding:
    import socket

    host, _, port = server.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return Finding("GDB server", True, f"{server} accepts connections")
    except (OSError, ValueError) as exc:
        return Finding("GDB server", False, f"nothing answers at {server} ({exc}); start OpenOCD / "
                                            "JLinkGDBServer / pyocd gdbserver first")


def _serial(port: str) -> Finding:
    if "://" in port:
        return Finding("serial port", True, f"{port} (a pyserial URL: checked when opened)")
    if not os.path.exists(port):
        return Finding("serial port", False, f"{port} does not exist (ls /dev/serial/by-id/)")
    if not os.access(port, os.R_OK | os.W_OK):
        return Finding("serial port", False, f"{port} exists but is not readable and writable "
                                             "(add the user to the dialout group)")
    return Finding("serial port", True, port)


def _nic(iface: str) -> Iterator[Finding]:
    if not Path(f"/sys/class/net/{iface}").exists():
        yield Finding("NIC", False, f"{iface} not present (ip link)")
        return
    state = Path(f"/sys/class/net/{iface}/operstate").read_text().strip()
    yield Finding("NIC", state in ("up", "unknown"), f"{iface} is {state}")
    yield _offloads(iface)


def _offloads(iface: str) -> Finding:
    """GRO/GSO/TSO/LRO make captured 'segments' larger than any frame on the wire."""
    from bench.capture.offload import OffloadError, read_offloads

    try:
        state = read_offloads(iface)
    except OffloadError as exc:
        return Finding("NIC offloads", False, f"cannot read the offloads of {iface}: {exc}", needed=False)
    return Finding("NIC offloads", state.honest, state.describe())


def _privilege(what: str, bit: int, name: str) -> Finding:
    if has_capability(bit):
        return Finding(what, True, "root" if os.geteuid() == 0 else f"{name} granted")
    return Finding(what, False, f"needs {name}: run the bench as root (or from a service granted "
                                f"AmbientCapabilities={name}); never setcap a shared interpreter")


def diagnose(cfg: TargetConfig, image: Path | None = None) -> list[Finding]:
    """Every finding for ``cfg``, in the order an engineer would fix them."""
    b, net, cap = cfg.board, cfg.network, cfg.capture
    out: list[Finding] = [Finding("target file", True, f"{shown(cfg.path)} ({cfg.description or cfg.name})")]
    probes: list[Callable[[], Iterator[Finding] | Finding]] = []
    if b.driver == "qemu":
        probes.append(lambda: _tool("qemu-system-arm"))
    if b.driver == "gdb" or b.flasher == "gdb":
        probes.append(lambda: _tool("gdb-multiarch"))
    if b.driver == "gdb":
        probes.append(lambda: _gdb_server(b.gdb_server))
    if b.driver == "pyocd":
        probes.append(lambda: _pyocd_probe(b.probe))
    probes.append(lambda: _image(cfg, image))
    if cfg.console.driver == "serial":
        probes.append(lambda: _serial(cfg.console.port))
    if net.mode == "tap":
        probes.append(lambda: _privilege("tap privilege", CAP_NET_ADMIN, "CAP_NET_ADMIN"))
    if net.mode == "nic" and net.interface:
        probes.append(lambda: _nic(net.interface))
    if cap.source == "live":
        probes.append(lambda: _privilege("capture privilege", CAP_NET_RAW, "CAP_NET_RAW"))
    for probe in probes:
        found = probe()
        out.extend([found] if isinstance(found, Finding) else found)
    return out


def render(findings: list[Finding]) -> list[str]:
    width = max(len(f.what) for f in findings)
    lines = []
    for f in findings:
        mark = "ok" if f.ok else ("MISSING" if f.needed else "warn")
        lines.append(f"{mark:8} {f.what:{width}}  {f.detail}")
    missing = [f for f in findings if f.needed and not f.ok]
    lines.append(f"{len(missing)} needed item(s) missing" if missing else "ready")
    return lines


def ready(findings: list[Finding]) -> bool:
    return all(f.ok or not f.needed for f in findings)
