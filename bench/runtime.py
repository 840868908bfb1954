"""What a running bench holds on the host, recorded so the next run can clean up.

Each bench process keeps a state file ``<state dir>/<pid>.json`` naming its
pid, the pid's start time (so a reused pid is not mistaken for the owner) and
what it made that outlives a crash: tap devices (name and ifindex) and sockets.
``sweep()`` removes, for every state file whose process is gone, exactly what
that file lists, whatever the names, and nothing else. Host-wide steps that
must not interleave (choosing a tap subnet) take ``host_lock()``.

``MAILBENCH_STATE_DIR`` gives a bench a state dir of its own: it then sweeps
only what benches of that dir left (a test that kills a bench and checks what
the next one sweeps must not race every other bench on the host). The host
lock stays host-wide whatever the state dir.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


STATE_DIR_ENV = "MAILBENCH_STATE_DIR"


def state_dir() -> Path:
    """``$MAILBENCH_STATE_DIR`` if set, else the host's (``host_dir()``)."""
    given = os.environ.get(STATE_DIR_ENV)
    if given:
        base = Path(given)
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        return base
    return host_dir()


def host_dir() -> Path:
    """``/run/mailbench`` for root, else ``$XDG_RUNTIME_DIR/mailbench`` or ``/tmp/mailbench-<uid>``."""
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        base = Path("/run/mailbench")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        base = Path(os.environ["XDG_RUNTIME_DIR"]) / "mailbench"
    else:
        base = Path(tempfile.gettempdir()) / f"mailbench-{os.geteuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    return base


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), None if it does not exist."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid``: {pid: start time} (Linux /proc; empty elsewhere). The
    start time tells a process from a later one that reuses its pid."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            for kid in kids:
                start = start_time(kid)
                if start is not None and kid != pid and kid not in found:
                    found[kid] = start
                    todo.append(kid)
    return found


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class _State:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.data: dict[str, Any] = {"pid": self.pid, "start": start_time(self.pid), "taps": {}, "sockets": []}

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.pid}.json"

    def save(self) -> None:
        if self.data["taps"] or self.data["sockets"]:
            _write(self.path, self.data)
        else:
            self.path.unlink(missing_ok=True)


_state: _State | None = None


def _mine() -> _State:
    global _state
    if _state is None or _state.pid != os.getpid():  # a forked child starts its own record
        _state = _State()
    return _state


def own_tap(name: str, ifindex: int) -> None:
    s = _mine()
    s.data["taps"][name] = ifindex
    s.save()


def disown_tap(name: str) -> None:
    s = _mine()
    s.data["taps"].pop(name, None)
    s.save()


def socket_path(name: str) -> Path:
    """A per-process socket path in the state dir (short: AF_UNIX allows 107 bytes), owned by this bench."""
    s = _mine()
    path = state_dir() / f"{s.pid}-{name}"
    if str(path) not in s.data["sockets"]:
        s.data["sockets"].append(str(path))
        s.save()
    return path


def release_socket(path: Path) -> None:
    s = _mine()
    path.unlink(missing_ok=True)
    if str(path) in s.data["sockets"]:
        s.data["sockets"].remove(str(path))
        s.save()


def _owner_alive(data: dict[str, Any]) -> bool:
    pid = int(data.get("pid", 0))
    return pid > 0 and start_time(pid) is not None and start_time(pid) == data.get("start")


def sweep() -> list[str]:
    """Remove what dead bench processes left (their taps, sockets, state files); what was removed."""
    from bench.capture.tap import delete_link  # the only tap code this needs

    removed: list[str] = []
    me = os.getpid()
    for path in sorted(state_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if int(data.get("pid", 0)) == me or _owner_alive(data):
            continue
        for name, ifindex in dict(data.get("taps", {})).items():
            if delete_link(name, ifindex):
                removed.append(f"tap {name}")
        for sock in data.get("sockets", []):
            with contextlib.suppress(OSError):
                Path(sock).unlink()
                removed.append(f"socket {sock}")
        path.unlink(missing_ok=True)
    return removed


@contextlib.contextmanager
def host_lock(name: str = "host") -> Iterator[None]:
    """An exclusive lock shared by every bench on this host (released if the holder dies)."""
    with open(host_dir() / f"{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
