"""The mutation self-test's inputs stay valid (fast, no QEMU): every patch in the
manifest applies cleanly to the current firmware source, and every criterion a
mutant must be caught by exists in the catalogue. The self-test itself (build
and judge each mutant) is `bench selftest`, the tox env `selftest`."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.checks.catalogue import CHECKS
from bench.config import project_root
from bench.config.catalogue import load_catalogue
from bench.selftest import FIRMWARE, load_manifest

ROOT = project_root()
MANIFEST = ROOT / "tests" / "mutants" / "mutants.toml"
MUTANTS = load_manifest(MANIFEST)


def test_manifest_lists_every_patch() -> None:
    listed = {m.patch.name for m in MUTANTS}
    on_disk = {p.name for p in MANIFEST.parent.glob("*.patch")}
    assert on_disk == listed, f"patches not in the manifest: {on_disk - listed}; missing: {listed - on_disk}"
    assert len(MUTANTS) >= 10


@pytest.mark.skipif(shutil.which("patch") is None, reason="no patch(1)")
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_patch_applies_to_current_source(mutant, tmp_path: Path) -> None:
    """Dry run against the source as it stands, fuzz 0 (what the self-test applies it to)."""
    touched = re.findall(r"^\+\+\+ b/(\S+)", mutant.patch.read_text(), flags=re.M)
    assert touched and all(t.startswith(f"{FIRMWARE.as_posix()}/") for t in touched), touched
    for rel in touched:  # only the touched files: the rest of the tree may be mid-edit elsewhere
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    r = subprocess.run(["patch", "-p1", "--dry-run", "--batch", "--forward", "--fuzz=0", "-i", str(mutant.patch)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, f"{mutant.patch.name} does not apply:\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_expected_criteria_exist(mutant) -> None:
    unknown = [c for c in mutant.expect if c not in CHECKS]
    assert not unknown, f"{mutant.name}: no check judges {unknown}"
    missing = load_catalogue().unknown(list(mutant.expect))
    assert not missing, f"{mutant.name}: {missing} not in the catalogue"


def test_patches_say_what_they_break() -> None:
    """Each patch opens with a comment naming the criterion it breaks."""
    for m in MUTANTS:
        head = m.patch.read_text().split("diff --git", 1)[0]
        assert head.startswith("# Mutant "), m.patch.name
        assert any(c in head for c in m.expect), f"{m.patch.name}: header names none of {m.expect}"
