"""The reference build is reproducible: the same source gives the same image,
byte for byte, whatever the checkout's path (``-ffile-prefix-map``, no clocks)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from bench.config import project_root

FIRMWARE = Path("targets") / "firmware"


def _build(repo: Path) -> bytes:
    run = subprocess.run(["make", "-C", str(repo / FIRMWARE), "-j2", "BOARD=mps2-an385", "all"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return (repo / FIRMWARE / "build" / "mps2-an385" / "firmware.elf").read_bytes()


def _copy_source(dest: Path) -> None:
    """The firmware tree (with the fetched lwIP, without build outputs) under ``dest``."""
    def no_build(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if "build" in parts else info

    dest.mkdir(parents=True)
    archive = dest / "src.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(project_root() / FIRMWARE, arcname=str(FIRMWARE), filter=no_build)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    archive.unlink()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="Arm GCC toolchain not installed")
def test_same_source_same_sha256_in_two_checkout_paths(tmp_path: Path) -> None:
    if not (project_root() / FIRMWARE / "third_party" / "lwip-2.1.3").is_dir():
        pytest.skip("lwIP not fetched (scripts/setup does it)")
    a, b = tmp_path / "one", tmp_path / "a" / "much" / "longer" / "second-checkout"
    for d in (a, b):
        _copy_source(d)
    first, second = _build(a), _build(b)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert str(tmp_path).encode() not in first  # no checkout path left in the image
