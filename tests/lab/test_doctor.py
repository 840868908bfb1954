"""`bench doctor`: one table of what a target needs, exit 0 when ready and 3 when
a needed item is missing, on this host's real tools, users and interfaces."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.config import load_target
from bench.doctor import diagnose, ready

BENCH = [sys.executable, "-m", "bench.cli", "doctor"]


def doctor(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *BENCH, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="no QEMU")
def test_emulated_target_is_ready_with_its_image_sha256() -> None:
    r = doctor("mps2-an385")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("ready")
    assert "qemu-system-arm" in r.stdout and "sha256 " in r.stdout


def test_real_board_without_its_hardware_lists_each_missing_item_and_exits_3() -> None:
    r = doctor("nucleo-f429zi-openocd")
    assert r.returncode == 3
    for what in ("GDB server", "image", "serial port", "NIC"):
        assert any(line.startswith("MISSING") and what in line for line in r.stdout.splitlines()), what
    assert "nothing answers at 127.0.0.1:3333" in r.stdout


def test_another_image_is_checked_instead(tmp_path: Path) -> None:
    findings = diagnose(load_target("mps2-an385"), tmp_path / "absent.elf")
    image = next(f for f in findings if f.what == "image")
    assert not image.ok and "absent.elf not found" in image.detail and not ready(findings)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_an_unprivileged_user_is_told_which_capability_is_missing() -> None:
    r = doctor("mps2-an385-tap", prefix=("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                         "--inh-caps=-all"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "needs CAP_NET_ADMIN" in r.stdout and "needs CAP_NET_RAW" in r.stdout
    assert "setcap" not in r.stdout.replace("never setcap", "")


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ethtool") is None, reason="needs root and ethtool")
def test_a_nic_with_offloads_on_is_named_with_the_fix(tmp_path: Path) -> None:
    name = f"mbd{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"], check=True)
    try:
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        subprocess.run(["ethtool", "-K", name, "gro", "on", "gso", "on", "tso", "on"], capture_output=True)
        text = (Path(load_target("example-real-board").path).read_text()
                .replace('"enp3s0"', f'"{name}"'))
        target = tmp_path / "nic.toml"
        target.write_text(text)
        r = doctor(str(target))
        line = next(x for x in r.stdout.splitlines() if "NIC offloads" in x)
        assert line.startswith("MISSING") and f"ethtool -K {name} " in line and "gro off" in line
        subprocess.run(["ethtool", "-K", name, "gro", "off", "gso", "off", "tso", "off"], check=True,
                       capture_output=True)
        r = doctor(str(target))
        assert any(x.startswith("ok") and "NIC offloads" in x for x in r.stdout.splitlines()), r.stdout
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)
