"""Boards a host has, and which run holds which (compare twister's hardware map
and labgrid's places).

A pool file lists the host's boards: an id, the target file it is an instance
of, and what tells it from its siblings (probe uid, console path, NIC, GDB
server). A run asks for free boards of its target; each worker claims one by
an exclusive ``filelock`` on ``<lock dir>/<id>.lock``. The lock is an flock: the
kernel frees it when the worker dies, however it dies, so a killed CI job never
leaves a board taken. Emulated boards need no pool file: ``--boards N`` of an
emulated target is N QEMU instances, ``<target>#0`` .. ``#N-1``.

A board that fails to flash or boot is quarantined for the rest of the run
(``quarantine.json`` in the run dir, with its reason) and the worker claims the
next free one.
"""
from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import Field, ValidationError

from bench.config import ConfigError, TargetConfig
from bench.config.target import Section, format_errors

DEFAULT_LOCK_DIR = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / "mailbench-locks"


class BoardEntry(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.#-]+$")
    target: str  # the target file this board is an instance of
    probe: str = ""  # pyocd probe unique id
    console: str = ""  # /dev/serial/by-id/... or a pyserial URL
    nic: str = ""  # the host NIC cabled to it
    gdb_server: str = ""  # its own GDB server (host:port), one per probe


class PoolFile(Section):
    board: tuple[BoardEntry, ...] = Field(default=(), strict=False)


def load_pool(path: Path) -> list[BoardEntry]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        entries = list(PoolFile.model_validate(data).board)
    except ValidationError as exc:
        raise ConfigError(format_errors(path, exc)) from None
    ids = [e.id for e in entries]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{path}: [[board]] id: {', '.join(dup)} listed twice")
    return entries


def emulated_pool(target: str, n: int) -> list[BoardEntry]:
    return [BoardEntry(id=f"{target}#{i}", target=target) for i in range(n)]


def apply(config: TargetConfig, entry: BoardEntry) -> TargetConfig:
    """The target file as this particular board: its probe, console, NIC and GDB server."""
    board, console, net, cap = config.board, config.console, config.network, config.capture
    if entry.probe:
        board = board.model_copy(update={"probe": entry.probe})
    if entry.gdb_server:
        board = board.model_copy(update={"gdb_server": entry.gdb_server})
    if entry.console:
        console = console.model_copy(update={"port": entry.console})
    if entry.nic:
        net = net.model_copy(update={"interface": entry.nic})
        cap = cap.model_copy(update={"interface": entry.nic})
    return config.model_copy(update={"board": board, "console": console, "network": net, "capture": cap})


@dataclass
class Quarantine:
    """Boards taken out of this run, with why; shared by the run's workers through a file."""

    path: Path

    def read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def add(self, board_id: str, reason: str) -> None:
        with FileLock(str(self.path) + ".lock"):
            found = self.read()
            found[board_id] = reason
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(found, indent=1))
            tmp.replace(self.path)


class NoFreeBoard(RuntimeError):
    pass


@contextmanager
def claim(entries: list[BoardEntry], target: str, quarantine: Quarantine | None = None,
          lock_dir: Path = DEFAULT_LOCK_DIR) -> Iterator[BoardEntry]:
    """Hold the first free, unquarantined board of ``target`` until the block ends."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    out = quarantine.read() if quarantine else {}
    mine = [e for e in entries if e.target == target]
    if not mine:
        raise NoFreeBoard(f"the pool has no board of target {target!r}")
    for entry in mine:
        if entry.id in out:
            continue
        lock = FileLock(str(lock_dir / f"{entry.id.replace('/', '_')}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        try:
            yield entry
        finally:
            lock.release()
        return
    held = [e.id for e in mine if e.id not in out]
    raise NoFreeBoard(f"no free board of {target}: " + "; ".join(
        [*(f"{i} is held by another run" for i in held), *(f"{i} quarantined: {out[i]}" for i in out
                                                          if any(e.id == i for e in mine))]))
