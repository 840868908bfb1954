"""What a run judged: the image (path, sha256, size, its manifest entry), the
target file, the catalogue, the bench and the host.

Recorded once per run in ``verdicts.json`` (``judged``), shown in the report's
header and written as JUnit suite properties, so a report found later says
which build of which firmware it is about.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from bench import __version__
from bench.config import TargetConfig, project_root
from bench.config.catalogue import load_catalogue

MANIFEST = Path("firmware_images") / "manifest.json"


def shown(path: Path) -> str:
    """A path relative to the project when it lies inside it, else as given."""
    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_entry(sha256: str, manifest: Path | None = None) -> dict[str, Any] | None:
    """The ``firmware_images/manifest.json`` entry of the build with this sha256 (None: not a reference build)."""
    path = manifest or project_root() / MANIFEST
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return next((e for e in entries.values() if isinstance(e, dict) and e.get("sha256") == sha256), None)


def _bench_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(project_root()), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def judged(config: TargetConfig, image: Path) -> dict[str, Any]:
    """Everything that identifies what this run is about (plain JSON data)."""
    image_info: dict[str, Any] = {"path": shown(image)}
    if image.is_file():
        sha = sha256_of(image)
        image_info |= {"sha256": sha, "size": image.stat().st_size, "manifest": manifest_entry(sha)}
    else:
        image_info["missing"] = True
    catalogue = load_catalogue()
    return {
        "image": image_info,
        "target": {"name": config.name, "file": shown(config.path), "board": config.board.driver},
        "catalogue": {"version": catalogue.version, "path": shown(catalogue.path)},
        "bench": {"version": __version__, "commit": _bench_commit()},
        "host": {"name": socket.gethostname(), "system": platform.platform(terse=True),
                 "python": platform.python_version(), "user": os.environ.get("USER", "")},
    }


def properties(judged_: dict[str, Any], device: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """The same facts as flat (name, value) pairs: JUnit suite properties, the report's header."""
    image, manifest = judged_.get("image", {}), judged_.get("image", {}).get("manifest") or {}
    pairs = [
        ("target", judged_.get("target", {}).get("name", "")),
        ("target.file", judged_.get("target", {}).get("file", "")),
        ("image", image.get("path", "")),
        ("image.sha256", image.get("sha256", "missing" if image.get("missing") else "")),
        ("image.size", str(image.get("size", ""))),
        ("image.compiler", manifest.get("compiler", "")),
        ("image.lwip", manifest.get("lwip", "")),
        ("device.fw", (device or {}).get("fw", "")),
        ("device.board", (device or {}).get("board", "")),
        ("catalogue.version", judged_.get("catalogue", {}).get("version", "")),
        ("bench.version", " ".join(x for x in (judged_.get("bench", {}).get("version", ""),
                                               judged_.get("bench", {}).get("commit", "")) if x)),
        ("host", judged_.get("host", {}).get("name", "")),
    ]
    return [(k, v) for k, v in pairs if v]
