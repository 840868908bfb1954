"""The acceptance catalogue: ``docs/REQUIREMENTS.md``, read once.

The project's own copy is the single source of criterion IDs, their sections,
their text and the catalogue's version. The checks map IDs to functions
(``bench.checks.catalogue``), tests and workloads name IDs, and the report
lists every criterion; all of them read this module, so an ID that is not in
the file is an error wherever it appears.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.config.target import ConfigError, project_root

CATALOGUE_PATH = Path("docs") / "REQUIREMENTS.md"
_ID = re.compile(r"^[A-Z]+(?:-[A-Z]+)+-\d+$")
_VERSION = re.compile(r"^Version (\d+)\b", re.M)


@dataclass(frozen=True)
class Criterion:
    id: str
    section: str
    text: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    path: Path
    criteria: tuple[Criterion, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.criteria)

    def get(self, cid: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == cid), None)

    def unknown(self, ids: tuple[str, ...] | list[str]) -> list[str]:
        """The IDs of ``ids`` that the catalogue does not hold, in order."""
        known = self.ids
        return [c for c in ids if c not in known]

    def explain_unknown(self, ids: tuple[str, ...] | list[str]) -> str:
        """One line naming the unknown IDs of ``ids`` and the catalogue they are missing from."""
        bad = self.unknown(ids)
        return (f"unknown criterion{'s' if len(bad) > 1 else ''} {', '.join(bad)} "
                f"(not in {CATALOGUE_PATH.as_posix()}, version {self.version})")


def parse_catalogue(text: str, path: Path) -> Catalogue:
    """Every ``| ID | criterion |`` table row, with the ``##`` section it sits under."""
    out: list[Criterion] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and _ID.match(cells[0]):
            out.append(Criterion(cells[0], section, "|".join(cells[1:]).strip()))
    m = _VERSION.search(text)
    if not out or m is None:
        raise ConfigError(f"{path}: no catalogue here (need a 'Version N' line and '| ID | criterion |' rows)")
    return Catalogue(version=m.group(1), path=path, criteria=tuple(out))


@cache
def load_catalogue(path: Path | None = None) -> Catalogue:
    """The project's catalogue (or the file at ``path``, for tests)."""
    path = path or project_root() / CATALOGUE_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the acceptance catalogue ({exc.strerror})") from None
    return parse_catalogue(text, path)
