"""A board that never boots, a full disk, a read-only run dir, a host without IPv6,
a missing capability: each ends in one line and its exit code, with what was
done kept, and nothing of the bench left behind."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runs import QUICK, ROOT, junit_cases, kill_quietly, start, wait_gone

pytestmark = pytest.mark.emulated
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, namespaces, capabilities)")
IMAGE = ROOT / "firmware_images" / "mps2-an385" / "firmware.elf"


def _images(tmp: Path) -> dict[str, tuple[Path, str]]:
    elf = IMAGE.read_bytes()
    made = {
        "empty": (b"", "qemu: fatal: Lockup"),
        "garbage": (bytes((i * 131 + 7) % 256 for i in range(20000)), "qemu: fatal: Lockup"),
        "truncated": (elf[:3000], "qemu: fatal: Lockup"),
    }
    out = {}
    for name, (data, cause) in made.items():
        (tmp / f"{name}.elf").write_bytes(data)
        out[name] = (tmp / f"{name}.elf", cause)
    # another board's build: it runs, faults at once, over and over
    out["wrong-board"] = (ROOT / "firmware_images" / "mps2-an386" / "firmware.elf", "'* fault kind=hardfault pc=0x")
    # a program that prints two lines of its own on UART0 and spins: no agent, no banner
    (tmp / "quiet.S").write_text(QUIET_S)
    subprocess.run(["arm-none-eabi-gcc", "-nostdlib", "-mcpu=cortex-m3", "-mthumb", "-Wl,--section-start=.vectors=0",
                    "-Wl,-Ttext=0x100", "-Wl,-e,reset", "-o", str(tmp / "quiet.elf"), str(tmp / "quiet.S")], check=True)
    out["no-banner"] = (tmp / "quiet.elf", "no banner in 15 s; last UART output: 'still booting'")
    return out


QUIET_S = """
    .syntax unified
    .cpu cortex-m3
    .thumb
    .section .vectors, "a"
    .word 0x20010000
    .word reset
    .text
    .thumb_func
    .global reset
reset:                       @ CMSDK UART0: enable TX, write each byte when not full, then spin
    ldr r0, =0x40004000
    movs r1, #1
    str r1, [r0, #8]
    adr r2, msg
next:
    ldrb r1, [r2], #1
    cbz r1, done
busy:
    ldr r3, [r0, #4]
    tst r3, #1
    bne busy
    str r1, [r0]
    b next
done:
    b done
    .align 2
msg:
    .asciz "garbled boot: no agent here\r\nstill booting"
"""


@pytest.mark.parametrize("image", ["empty", "garbage", "truncated", "wrong-board", "no-banner"])
def test_a_board_that_never_boots_is_one_reason_once_and_exit_3(tmp_path: Path, image: str) -> None:
    path, cause = _images(tmp_path)[image]
    run = start(tmp_path / "run", "--image", str(path))
    try:
        rc, out, err = run.finish(120)
    finally:
        kill_quietly(run)
    assert rc == 3, (rc, out[-1500:], err[-1500:])
    text = out + err
    assert text.count("board never booted") == 1 and cause in text, text[-2000:]
    assert "Traceback" not in text and len(text.splitlines()) < 25, text
    data = run.verdicts()
    assert data["status"] == "bench-error" and data["bench_error"]["kind"] == "boot"
    assert cause in data["bench_error"]["message"] and data["tests"] == []
    assert (run.run_dir / "report.html").is_file()
    wait_gone(run.pid)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=800k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@needs_root
def test_a_full_disk_ends_the_run_keeping_every_finished_test(small_tmpfs: Path) -> None:
    run = start(small_tmpfs / "run", k=QUICK + " or one_mail or malformed")
    try:
        rc, out, err = run.finish(180)
    finally:
        kill_quietly(run)
    assert rc == 3, (rc, out[-1500:], err[-1500:])
    assert "No space left on device" in err and "Traceback" not in out + err, err[-2000:]
    data = run.verdicts()  # whole JSON: written by rename, never in place; the last write used the kept room
    assert data["status"] == "bench-error" and data["bench_error"]["kind"] == "disk", data["bench_error"]
    finished = [t for t in data["tests"] if t["outcome"] == "passed"]
    assert len(finished) >= 3 and len(finished) == len(data["tests"])
    assert len(junit_cases(run.run_dir / "junit.xml")) == len(data["tests"])
    assert f"{len(data['tests'])} of" in err
    wait_gone(run.pid)


@needs_root
def test_a_read_only_run_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=True)
    try:
        run = start(ro / "run")
        rc, out, err = run.finish(60)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert rc == 2 and err.strip() == f"bench: cannot write the run directory {ro / 'run'}: Read-only file system", err
    assert "Traceback" not in out + err
    wait_gone(run.pid)


@needs_root
def test_a_host_without_ipv6_skips_the_ipv6_tests_and_passes_the_ipv4_ones() -> None:
    ns = f"mbtns{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                    ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
                    ["sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1"], ["ip", "link", "set", "lo", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        run = start(None, k="full_session or one_mail_with_dotted_body", prefix=("ip", "netns", "exec", ns))
        rc, out, err = run.finish(180)
        report = Path(out.rstrip().splitlines()[-1].removeprefix("report: "))
        data = json.loads((report.parent / "verdicts.json").read_text())
        shutil.rmtree(report.parent, ignore_errors=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert rc == 0, err[-2000:]
    outcomes = {t["nodeid"].rsplit("::", 1)[1]: (t["outcome"], t["error"]) for t in data["tests"]}
    for name, (outcome, why) in outcomes.items():
        if name.endswith("[6]"):
            assert outcome == "skipped" and "no IPv6" in why, (name, outcome, why)
        else:
            assert outcome == "passed", (name, outcome, why)
    assert len(outcomes) == 4


@needs_root
def test_tap_mode_without_cap_net_admin_names_it_and_a_grant_that_works(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    run = start(tmp_path / "run", target="mps2-an385-tap",
                prefix=("setpriv", "--bounding-set", "-net_admin,-net_raw", "--inh-caps", "-all"))
    rc, out, err = run.finish(120)
    assert rc == 3, (rc, out[-1500:], err[-1500:])
    line = [ln for ln in err.splitlines() if "CAP_NET_ADMIN" in ln]
    assert len(line) == 1 and "--ambient-caps=+net_admin,+net_raw" in line[0], err[-2000:]
    assert "setcap" not in out + err and "Traceback" not in out + err
    assert run.verdicts()["bench_error"]["kind"] == "target"
    wait_gone(run.pid)


def test_bench_serve_names_a_port_already_taken() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "bench.cli", "serve", "--smtp-port", str(port),
                              "--pop3-port", "-1", "--duration", "0.2"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in res.stderr
    assert "Traceback" not in res.stderr
