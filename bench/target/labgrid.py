"""A board from a labgrid farm: reserve a place, acquire it, use its resources, give it back.

The bench talks to the labgrid coordinator through ``labgrid-client``, the
interface labgrid keeps stable for its users, rather than importing labgrid:
labgrid 26 replaces pyserial with its own fork (pyserial-labgrid), which the
bench's console must not depend on. So labgrid can live in its own venv or come
from the lab's image; ``[lab] client`` names the executable.

A run does ``reserve`` (by place name or by tags) → ``wait`` (bounded: a place
another bench holds is a clear error after ``wait_s``, not a hang) → ``acquire``
→ ``env`` (the acquired resources as YAML: the ``NetworkSerialPort`` served by
ser2net, reached with pyserial's rfc2217 client, and a ``NetworkService`` that
names the place's GDB server) → run → ``release`` → ``cancel-reservation``. The
last two happen on every exit path, Ctrl-C and SIGTERM included (the bench turns
both into an unwinding exception): a place left acquired after a cancelled CI
job is labgrid users' most common complaint, and an uncancelled reservation keeps
the place allocated for about a minute.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.config import TargetConfig
from bench.config.target import LabConfig
from bench.target.protocols import TargetError

_TOKEN = re.compile(r"LG_TOKEN=(\w+)")
GDB_SERVICE_USER = "gdb"  # the NetworkService whose username is "gdb" is the place's GDB server


@dataclass(frozen=True)
class PlaceResources:
    place: str
    console_url: str  # rfc2217://host:port
    gdb_server: str  # host:port


class LabgridPlace:
    """Context manager: a reserved, acquired place, released and cancelled on the way out."""

    def __init__(self, lab: LabConfig, log: Path) -> None:
        self.lab = lab
        self.log = log
        self.token = ""
        self.acquired = False

    # -- labgrid-client -------------------------------------------------------
    def _client(self, *args: str, timeout: float = 30.0, place: str | None = None) -> str:
        exe = shutil.which(self.lab.client) or (self.lab.client if Path(self.lab.client).is_file() else None)
        if exe is None:
            raise TargetError(f"labgrid client {self.lab.client!r} not found: pip install labgrid "
                              "(in its own venv) and set [lab] client")
        argv = [exe, "-x", self.lab.coordinator, *(("-p", place) if place else ()), *args]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TargetError(f"labgrid-client {' '.join(args)} did not answer in {timeout:.0f} s "
                              f"(coordinator {self.lab.coordinator})") from None
        with self.log.open("a") as f:
            f.write(f"$ {' '.join(argv)}\n{r.stdout}{r.stderr}[rc {r.returncode}]\n")
        if r.returncode != 0:
            last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
            raise TargetError(f"labgrid-client {' '.join(args)}: {last}")
        return r.stdout

    def _filters(self) -> list[str]:
        if self.lab.place:
            return [f"name={self.lab.place}"]
        return [f"{k}={v}" for k, v in sorted(self.lab.tags.items())]

    # -- the place's life -------------------------------------------------------
    def __enter__(self) -> PlaceResources:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self._client("reserve", "--shell", *self._filters())
        m = _TOKEN.search(out)
        if m is None:
            raise TargetError(f"labgrid reserve gave no token: {out.strip()}")
        self.token = m.group(1)
        try:
            self._wait()
            self._client("acquire", place=f"+{self.token}")
            self.acquired = True
            return self._resources()
        except BaseException:
            self._give_back()
            raise

    def __exit__(self, *exc: object) -> None:
        self._give_back()

    def _wait(self) -> None:
        t0 = time.monotonic()
        try:
            self._client("wait", self.token, timeout=self.lab.wait_s)
        except TargetError as exc:
            if time.monotonic() - t0 < self.lab.wait_s - 1:
                raise
            wanted = " ".join(self._filters())
            raise TargetError(f"no labgrid place for {wanted} came free in {self.lab.wait_s:.0f} s "
                              f"(held by another bench; `labgrid-client -x {self.lab.coordinator} places`)") from None

    def _resources(self) -> PlaceResources:
        env = yaml.safe_load(self._client("env", place=f"+{self.token}")) or {}
        targets = env.get("targets") or {}
        if not targets:
            raise TargetError("labgrid env lists no target for the acquired place")
        place, body = next(iter(targets.items()))
        resources: list[dict[str, Any]] = body.get("resources") or []
        serial = _one(resources, "NetworkSerialPort")
        gdb = next((r["NetworkService"] for r in resources if "NetworkService" in r
                    and r["NetworkService"].get("username") == GDB_SERVICE_USER), None)
        if serial is None or serial.get("port") is None:
            raise TargetError(f"labgrid place {place} exports no NetworkSerialPort (the board's console)")
        if gdb is None:
            raise TargetError(f"labgrid place {place} exports no NetworkService with username "
                              f"{GDB_SERVICE_USER!r} (the board's GDB server)")
        # ign_set_control: ser2net 4 does not answer SET_CONTROL the way pyserial waits for (labgrid
        # patches this in its pyserial fork; the URL option does the same with stock pyserial)
        return PlaceResources(place, f"rfc2217://{serial['host']}:{serial['port']}?ign_set_control",
                              f"{gdb['address']}:{gdb.get('port', 3333)}")

    def _give_back(self) -> None:
        """Release and cancel, each step bounded; never raises (it runs while unwinding)."""
        if self.acquired:
            try:
                self._client("release", place=f"+{self.token}", timeout=15)
            except TargetError:
                pass
            self.acquired = False
        if self.token:
            try:
                self._client("cancel-reservation", self.token, timeout=15)
            except TargetError:
                pass
            self.token = ""


def _one(resources: list[dict[str, Any]], cls: str) -> dict[str, Any] | None:
    return next((r[cls] for r in resources if cls in r), None)


def bind(config: TargetConfig, res: PlaceResources) -> TargetConfig:
    """The target file with the place's console and GDB server filled in."""
    return config.model_copy(update={
        "board": config.board.model_copy(update={"gdb_server": res.gdb_server}),
        "console": config.console.model_copy(update={"port": res.console_url}),
    })
