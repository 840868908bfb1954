"""The self-test's firmware trees: the source exported from git (or the working tree), a mutant's patch, a build."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

FIRMWARE = Path("targets") / "firmware"
LWIP = "lwip-2.1.3"


class SelftestError(Exception):
    """Setup problem: no manifest, no lwIP, not a git tree, ..."""


def export_source(root: Path, dest: Path, rev: str | None) -> Path:
    """The firmware source under dest/targets/firmware, without build/ and third_party/;
    lwIP linked in from the project's tree so it is not fetched again. Returns dest."""
    if rev:
        tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", rev, str(FIRMWARE)],
                             capture_output=True)
        if tar.returncode != 0:
            raise SelftestError(f"git archive {rev} {FIRMWARE}: {tar.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
            tf.extractall(dest, filter="tar")
    else:
        shutil.copytree(root / FIRMWARE, dest / FIRMWARE, symlinks=True,
                        ignore=lambda d, names: [n for n in names if Path(d) == root / FIRMWARE
                                                 and n in ("build", "third_party")])
    lwip = root / FIRMWARE / "third_party" / LWIP
    if not (lwip / "src" / "core" / "tcp.c").is_file():
        raise SelftestError(f"{lwip} is missing: fetch lwIP first (scripts/setup or make -C {FIRMWARE} lwip)")
    third = dest / FIRMWARE / "third_party"
    shutil.rmtree(third, ignore_errors=True)
    third.mkdir(parents=True)
    (third / LWIP).symlink_to(lwip)
    return dest


def apply_patch(tree: Path, patch: Path, log: Path) -> bool:
    """patch -p1 from the tree's root, no fuzz: a patch that drifted fails loudly."""
    with open(log, "w") as out:
        r = subprocess.run(["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                            "-i", str(patch)], cwd=tree, stdout=out, stderr=subprocess.STDOUT)
    return r.returncode == 0


def build(tree: Path, board: str, build_dir: Path, log: Path) -> Path | None:
    with open(log, "w") as out:
        r = subprocess.run(["make", "-C", str(tree / FIRMWARE), f"BOARD={board}", f"BUILD={build_dir}",
                            f"-j{min(2, os.cpu_count() or 1)}"], stdout=out, stderr=subprocess.STDOUT)
    elf = build_dir / "firmware.elf"
    return elf if r.returncode == 0 and elf.is_file() else None
