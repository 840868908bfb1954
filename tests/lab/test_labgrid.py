"""The labgrid round trip on loopback: a real labgrid-coordinator and
labgrid-exporter export an emulated board (QEMU halted with its gdbstub, its
UART on a pty served by the exporter's ser2net). The bench reserves the place by
tags, acquires it, flashes over the place's GDB server, runs a subset of the
suite over the rfc2217 console, then releases the place and cancels the
reservation. A second bench that wants the held place fails clearly after its
wait. Afterwards the place is free and no ser2net is left."""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.capture.tap import free_subnet
from bench.config import project_root
from bench.target.process import spawn, terminate

ROOT = project_root()
LG = ROOT / ".venv-labgrid" / "bin"
IMAGE = ROOT / "firmware_images" / "mps2-an385" / "firmware.elf"

pytestmark = [
    pytest.mark.emulated,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab board's NIC is a tap this test creates (root)"),
    pytest.mark.skipif(not (LG / "labgrid-client").is_file(), reason="no .venv-labgrid (scripts/setup makes it)"),
    pytest.mark.skipif(shutil.which("ser2net") is None or shutil.which("gdb-multiarch") is None,
                       reason="needs ser2net and gdb-multiarch"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready in {timeout} s")


@dataclass
class Lab:
    coordinator: str
    place: str
    pty: str
    workdir: Path
    nic: str  # the tap cabled to the lab board: the bench captures on it, as on a host NIC
    subnet: ipaddress.IPv4Network

    def client(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([str(LG / "labgrid-client"), "-x", self.coordinator, *args],
                           capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout + r.stderr

    def target_file(self, wait_s: float = 60) -> Path:
        text = (ROOT / "targets" / "mps2-an385-labgrid.toml").read_text()
        text = text.replace('coordinator = "127.0.0.1:20408"', f'coordinator = "{self.coordinator}"')
        text = text.replace('client = "labgrid-client"', f'client = "{LG / "labgrid-client"}"')
        text = text.replace("wait_s = 120", f"wait_s = {wait_s}")
        text = text.replace('tags = { board = "mps2-an385" }', f'tags = {{ board = "mps2-an385-{os.getpid()}" }}')
        host, dev = self.subnet.network_address + 1, self.subnet.network_address + 15
        text = text.replace('mode = "user"', "mode = \"nic\"\ninterface = \"%s\"" % self.nic)
        text = text.replace('device_ip = "10.0.2.15"', f'device_ip = "{dev}"')
        text = text.replace('server_ip = "10.0.2.2"', f'server_ip = "{host}"\nprefix_len = {self.subnet.prefixlen}')
        text = re.sub(r'server_ip6 = .*\n', "", text)
        text = text.replace('bind = ["127.0.0.1", "::1"]', f'bind = ["{host}"]')
        text = text.replace('source = "none"', 'source = "live"')
        path = self.workdir / f"lab-{wait_s}.toml"
        path.write_text(text)
        return path


def _ser2nets_on(pty: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"ser2net.*{re.escape(pty)},"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    procs: list[subprocess.Popen[bytes]] = []
    port = _free_port()
    gdb_port = _free_port()
    nic = f"mbl{os.getpid() % 100000}"
    subnet = free_subnet()
    assert isinstance(subnet, ipaddress.IPv4Network)
    subprocess.run(["ip", "tuntap", "add", "dev", nic, "mode", "tap"], check=True)
    pty = ""
    try:
        subprocess.run(["ip", "addr", "add", f"{subnet.network_address + 1}/{subnet.prefixlen}", "dev", nic], check=True)
        subprocess.run(["ip", "link", "set", nic, "up"], check=True)
        qemu = spawn(["qemu-system-arm", "-M", "mps2-an385", "-cpu", "cortex-m3", "-m", "16M", "-nographic",
                      "-monitor", "none", "-S", "-gdb", f"tcp:127.0.0.1:{gdb_port}", "-serial", "pty",
                      "-netdev", f"tap,id=n0,ifname={nic},script=no,downscript=no",
                      "-net", "nic,netdev=n0,model=lan9118"], tmp_path / "qemu.log")
        procs.append(qemu)
        def have_pty() -> bool:
            nonlocal pty
            m = re.search(r"/dev/pts/\d+", (tmp_path / "qemu.log").read_text())
            pty = m.group(0) if m else ""
            return bool(pty)
        _wait_for(have_pty, 10, "QEMU's pty")
        coord = f"127.0.0.1:{port}"
        procs.append(spawn([str(LG / "labgrid-coordinator"), "-l", coord], tmp_path / "coordinator.log",
                           cwd=tmp_path))  # it keeps places.yaml and resources.yaml in its directory
        place = f"bench-{os.getpid()}"
        (tmp_path / "exporter.yaml").write_text(
            f"{place}:\n  location: loopback\n  RawSerialPort:\n    port: {pty}\n    speed: 115200\n"
            f"  NetworkService:\n    address: 127.0.0.1\n    port: {gdb_port}\n    username: gdb\n")
        time.sleep(0.5)
        procs.append(spawn([str(LG / "labgrid-exporter"), "-c", coord, "--name", f"host{os.getpid()}",
                            "--hostname", "127.0.0.1", str(tmp_path / "exporter.yaml")], tmp_path / "exporter.log"))
        _wait_for(lambda: "Exporter ready" in (tmp_path / "exporter.log").read_text(), 20, "labgrid exporter")
        lab = Lab(coord, place, pty, tmp_path, nic, subnet)
        lab.client("-p", place, "create")
        lab.client("-p", place, "add-match", f"host{os.getpid()}/{place}/*")
        lab.client("-p", place, "set-tags", f"board=mps2-an385-{os.getpid()}")
        yield lab
    finally:
        for p in reversed(procs):
            terminate(p)
        for pid in _ser2nets_on(pty) if pty else []:  # a killed exporter leaves its ser2net behind
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "link", "del", nic], capture_output=True)


def _bench_run(target: Path, run_dir: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", "run", "--target", str(target), "--image", str(IMAGE),
                           "--run-dir", str(run_dir), "--", *pytest_args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


SUBSET = ("tests/acceptance/test_smtp.py::test_one_mail_with_dotted_body[4]", "tests/acceptance/test_smtp.py::test_auth[login]",
          "tests/acceptance/test_pop3.py::test_apop_session[4]")


def test_bench_reserves_runs_and_gives_the_place_back(lab: Lab, tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = _bench_run(lab.target_file(), tmp_path / "run", *SUBSET)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "3 passed" in r.stdout, r.stdout[-2000:]
    log = (tmp_path / "run" / "board" / "labgrid.log").read_text() if (tmp_path / "run" / "board").exists() \
        else next((tmp_path / "run").rglob("labgrid.log")).read_text()
    steps = re.findall(r"^\$ \S+ -x \S+(?: -p \S+)? (\S+)", log, flags=re.M)
    assert steps == ["reserve", "wait", "acquire", "env", "release", "cancel-reservation"], steps
    show = lab.client("-p", lab.place, "show")
    assert "acquired: None" in show, show
    assert "Reservation" not in lab.client("reservations")
    _wait_for(lambda: not _ser2nets_on(lab.pty), 10, "ser2net gone after release")
    print(f"labgrid round trip with 3 tests: {time.monotonic() - t0:.1f} s")


def test_a_second_bench_waits_then_fails_clearly_while_the_place_is_held(lab: Lab, tmp_path: Path) -> None:
    token = re.search(r"LG_TOKEN=(\w+)", lab.client("reserve", "--shell", f"name={lab.place}")).group(1)
    lab.client("wait", token)
    lab.client("-p", f"+{token}", "acquire")
    try:
        t0 = time.monotonic()
        r = _bench_run(lab.target_file(wait_s=3), tmp_path / "run", SUBSET[1])
        took = time.monotonic() - t0
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "came free in 3 s" in out, out[-3000:]
        assert took < 60
    finally:
        lab.client("-p", f"+{token}", "release")
        lab.client("cancel-reservation", token)
    # the waiting bench cancelled its own reservation: only ours was ever allocated, and it is gone
    assert "Reservation" not in lab.client("reservations")
