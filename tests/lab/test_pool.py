"""The board pool: a pool file's boards, claimed one per worker by a lock the
kernel frees when its holder dies, and boards quarantined for the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.config import ConfigError, load_target
from bench.target.pool import NoFreeBoard, Quarantine, apply, claim, emulated_pool, load_pool

POOL = """
[[board]]
id = "f429-a"
target = "nucleo-f429zi-openocd"
gdb_server = "127.0.0.1:3333"
console = "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_A-if02"
nic = "enxa"

[[board]]
id = "f429-b"
target = "nucleo-f429zi-openocd"
gdb_server = "127.0.0.1:3334"
console = "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_B-if02"
nic = "enxb"
"""


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    p = tmp_path / "boards.toml"
    p.write_text(POOL)
    return p


def test_two_workers_get_two_boards_and_a_third_is_told_why_not(pool: Path, tmp_path: Path) -> None:
    entries = load_pool(pool)
    locks = tmp_path / "locks"
    with claim(entries, "nucleo-f429zi-openocd", lock_dir=locks) as a, \
            claim(entries, "nucleo-f429zi-openocd", lock_dir=locks) as b:
        assert {a.id, b.id} == {"f429-a", "f429-b"}
        with pytest.raises(NoFreeBoard, match="f429-a is held by another run; f429-b is held"):
            with claim(entries, "nucleo-f429zi-openocd", lock_dir=locks):
                pass
    with claim(entries, "nucleo-f429zi-openocd", lock_dir=locks) as again:
        assert again.id == "f429-a"


def test_a_board_is_applied_onto_its_target_file(pool: Path) -> None:
    entry = load_pool(pool)[1]
    cfg = apply(load_target(entry.target), entry)
    assert cfg.board.gdb_server == "127.0.0.1:3334" and cfg.console.port.endswith("STLink_B-if02")
    assert cfg.network.interface == "enxb" and cfg.capture.interface == "enxb"


def test_a_killed_holder_frees_its_board(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    entries = emulated_pool("mps2-an385", 1)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from bench.target.pool import claim, emulated_pool\n"
        f"with claim(emulated_pool('mps2-an385', 1), 'mps2-an385', lock_dir=Path({str(locks)!r})):\n"
        "    print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(NoFreeBoard, match="mps2-an385#0 is held"):
            with claim(entries, "mps2-an385", lock_dir=locks):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        t0 = time.monotonic()
        with claim(entries, "mps2-an385", lock_dir=locks) as e:
            assert e.id == "mps2-an385#0"
        assert time.monotonic() - t0 < 1
    finally:
        holder.kill()


def test_a_quarantined_board_is_skipped_with_its_reason(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "quarantine.json")
    q.add("mps2-an385#0", "no banner in 15 s")
    entries = emulated_pool("mps2-an385", 2)
    with claim(entries, "mps2-an385", q, lock_dir=tmp_path / "locks") as e:
        assert e.id == "mps2-an385#1"
        with pytest.raises(NoFreeBoard, match="mps2-an385#0 quarantined: no banner in 15 s"):
            with claim(entries, "mps2-an385", q, lock_dir=tmp_path / "locks"):
                pass


@pytest.mark.parametrize("text, message", [
    ('[[board]]\nid = "a"\n', r"\[board\[0\]\] target: missing key"),
    ('[[board]]\nid = "a"\ntarget = "x"\nprob = "1"\n', r"prob: unknown key"),
    ('[[board]]\nid = "a"\ntarget = "x"\n[[board]]\nid = "a"\ntarget = "x"\n', "a listed twice"),
])
def test_bad_pool_files_are_one_line_each(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "boards.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_pool(p)
