"""Links from the report to a run's files: recorded absolute paths made relative
to the run directory, re-rooted when the directory was moved."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class Link:
    label: str
    href: str  # relative to the run directory, URL-quoted
    path: Path


class Linker:
    """Turns recorded artifact paths into links relative to the run directory.

    Recorded paths are absolute at run time; when the run directory was moved
    they are re-rooted under the directory actually being reported.
    """

    def __init__(self, run_dir: Path, recorded_dir: str | None) -> None:
        self.run_dir = run_dir.resolve()
        self.recorded = Path(recorded_dir) if recorded_dir else None

    def locate(self, path: str | Path | None) -> Path | None:
        if not path:
            return None
        p = Path(path)
        candidates = [] if p.is_absolute() else [self.run_dir / p]
        if self.recorded is not None and p.is_absolute():  # the copy under this run directory first
            try:
                candidates.append(self.run_dir / p.relative_to(self.recorded))
            except ValueError:
                pass
        if p.is_absolute():
            candidates.append(p)
        return next((c for c in candidates if c.is_file()), None)

    def locate_dir(self, path: str | Path) -> Path | None:
        """A recorded directory, under this run directory when it was moved."""
        p = Path(path)
        if self.recorded is not None and p.is_absolute():
            try:
                moved = self.run_dir / p.relative_to(self.recorded)
                if moved.is_dir():
                    return moved.resolve()
            except ValueError:
                pass
        p = p if p.is_absolute() else self.run_dir / p
        return p.resolve() if p.is_dir() else None

    def link(self, path: str | Path | None, label: str | None = None) -> Link | None:
        found = self.locate(path)
        if found is None:
            return None
        rel = Path(os.path.relpath(found.resolve(), self.run_dir)).as_posix()
        return Link(label or found.name, quote(rel), found)
