"""Target files: a board, its console, its network and how it is captured.

A target file (TOML, under ``targets/``) describes resources only. Which driver
serves them is named here too, so moving from the emulated board to a real one
is a different file, not different code.

The file is validated strictly with pydantic: an unknown key, a value of the
wrong type or a value outside an enum is a ``ConfigError`` whose every line
names the file and the key. Each section is a ``Section`` (strict, frozen,
unknown keys refused); a new section (waivers, a lab's) is a ``Section``
subclass and one field on ``TargetConfig``.
"""
from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bench.config.waivers import Waiver


class ConfigError(ValueError):
    """A target file is missing, malformed or inconsistent."""


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


class Section(BaseModel):
    """One table of a target file: strict types, no unknown keys, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


#: a list in the file, a tuple in the config; a bare string is refused, not split into characters
StrList = tuple[str, ...]


class BoardConfig(Section):
    driver: Literal["qemu", "pyocd", "gdb", "native"]
    image: Path = Field(strict=False)  # relative paths are resolved against the project root
    machine: str = ""  # qemu
    cpu: str = ""  # qemu
    pyocd_target: str = ""  # pyocd
    probe: str = ""  # pyocd probe unique ID; "" = the only one
    pyocd_pack: str = ""  # pyocd: a local CMSIS pack (.pack) for a target pyocd has not built in
    extra_args: StrList = Field(default=(), strict=False)
    #: qemu: how the image gets in: "kernel" (-kernel at start) or "gdb" (over QEMU's gdbstub)
    flasher: Literal["kernel", "gdb"] = "kernel"
    gdb_server: str = ""  # gdb driver: host:port of OpenOCD, J-Link GDB Server or pyocd gdbserver
    gdb_before_load: StrList = Field(default=(), strict=False)  # OpenOCD/pyocd: "monitor reset halt"
    gdb_after_load: StrList = Field(default=("monitor system_reset",), strict=False)  # OpenOCD: "monitor reset run"
    gdb_reset: StrList = Field(default=("monitor reset",), strict=False)  # J-Link "monitor reset"
    gdb_halt: StrList = Field(default=(), strict=False)  # power-off: "monitor reset halt"

    @field_validator("image", mode="before")
    @classmethod
    def _image_is_text(cls, v: Any) -> Any:
        if not isinstance(v, (str, Path)):
            raise ValueError("must be a path (a string)")
        return v

    @model_validator(mode="after")
    def _driver_needs(self) -> BoardConfig:
        if self.driver == "qemu" and not self.machine:
            raise PydanticCustomError("needs", "machine: a qemu board needs 'machine'")
        if self.driver == "pyocd" and not self.pyocd_target:
            raise PydanticCustomError("needs", "pyocd_target: a pyocd board needs 'pyocd_target'")
        if self.flasher == "gdb" and self.driver != "qemu":
            raise PydanticCustomError("needs", "flasher: only a qemu board takes flasher = 'gdb' (use driver = 'gdb')")
        return self


class ConsoleConfig(Section):
    driver: Literal["qemu-serial", "serial", "pty"]
    port: str = ""  # serial: device path or pyserial URL
    baudrate: int = Field(default=115200, gt=0)


class LabConfig(Section):
    """A board from a labgrid farm: the place (by name or by tags) and its coordinator."""

    coordinator: str  # host:port of labgrid-coordinator
    place: str = ""  # reserve this place by name ...
    tags: dict[str, str] = Field(default_factory=dict)  # ... or any place with these tags
    client: str = "labgrid-client"  # the labgrid-client executable (labgrid may live in its own venv)
    wait_s: float = Field(default=120.0, gt=0, strict=False)  # how long to wait for a place another bench holds

    @model_validator(mode="after")
    def _place_or_tags(self) -> LabConfig:
        if not self.place and not self.tags:
            raise PydanticCustomError("needs", "place: a lab target needs 'place' or 'tags'")
        return self


def _address(v: str | None, version: int) -> str | None:
    if v is None:
        return v
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"{v!r} is not an IPv{version} address") from None
    if addr.version != version:
        raise ValueError(f"{v!r} is not an IPv{version} address")
    return v


class NetworkConfig(Section):
    mode: Literal["user", "tap", "nic", "veth"]
    device_ip: str
    server_ip: str  # the address the device dials to reach the host's servers
    server_ip6: str | None = None
    bind: StrList = Field(default=("127.0.0.1",), strict=False)  # where the server emulators listen
    device_ip6: str | None = None
    prefix_len: int = Field(default=24, ge=0, le=32)  # IPv4 subnet of device_ip and server_ip
    mtu: int = Field(default=1500, ge=576, le=9216)
    interface: str = ""  # nic mode: host interface cabled to the board; tap mode: "" = a name per run

    @field_validator("device_ip", "server_ip")
    @classmethod
    def _ipv4(cls, v: str) -> str:
        return _address(v, 4) or v

    @field_validator("device_ip6", "server_ip6")
    @classmethod
    def _ipv6(cls, v: str | None) -> str | None:
        return _address(v, 6)

    @field_validator("bind")
    @classmethod
    def _binds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise ValueError(f"{a!r} is not an IP address") from None
        return v


class ExternalPop3(Section):
    """A POP3 server the bench does not run: the device dials ``host:port`` as given."""

    host: str  # as the device reaches it (user-mode QEMU: 10.0.2.2 is the host's 127.0.0.1)
    port: int = Field(default=110, gt=0, lt=65536)
    user: str
    password: str
    apop: bool = False


class ExternalSmtp(Section):
    """An SMTP server the bench does not run, the account the device logs in with and who mail goes to."""

    host: str
    port: int = Field(default=25, gt=0, lt=65536)
    user: str = ""
    password: str = ""
    auth: Literal["plain", "login", "none"] = "plain"
    mail_from: str = "device@bench.test"
    rcpt: str = ""  # "" = the workload's recipients


class ExternalConfig(Section):
    """Real servers instead of the emulators: workloads of a protocol named here run against it,
    judged from the capture and the device's answers (bench.capture.wire_transcript)."""

    pop3: ExternalPop3 | None = None
    smtp: ExternalSmtp | None = None


class CaptureConfig(Section):
    source: Literal["filter-dump", "live", "none"] = "none"
    interface: str = ""


class TargetConfig(Section):
    name: str = ""
    description: str = ""
    path: Path = Field(default=Path(), strict=False, exclude=True)  # set by load_target, not a file key
    board: BoardConfig
    console: ConsoleConfig
    network: NetworkConfig
    capture: CaptureConfig = CaptureConfig()
    lab: LabConfig | None = None  # a labgrid place serves the console and the GDB server
    external: ExternalConfig | None = None  # real POP3/SMTP servers instead of the emulators
    #: expectations where the seed leaves behaviour open (see REQUIREMENTS.md)
    expect: dict[str, Any] = Field(default_factory=dict)
    #: known deviations the team accepts: ``[[waiver]]`` tables (bench.config.waivers)
    waiver: tuple[Waiver, ...] = Field(default=(), strict=False)


# -- messages -------------------------------------------------------------------
_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "tuple_type": "must be a list of strings",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


def _key(loc: tuple[int | str, ...], value: Any) -> str:
    """``('network', 'mode')`` → ``[network] mode``; list items as ``bind[1]``; a table as ``[lab]``."""
    parts: list[str] = []
    for p in loc:  # an index belongs to the key before it: bind[1], waiver[0] (a [[waiver]] table)
        if isinstance(p, int):
            if parts:
                parts[-1] += f"[{p}]"
        else:
            parts.append(str(p))
    if not parts:
        return "(top level)"
    if len(parts) == 1:
        table = loc[0] in _SECTIONS or isinstance(value, dict)
        return f"[{parts[0]}]" if table else parts[0]
    return f"[{'.'.join(parts[:-1])}] {parts[-1]}"


_SECTIONS = {n for n, f in TargetConfig.model_fields.items()
             if any(isinstance(a, type) and issubclass(a, Section) for a in (f.annotation, *getattr(f.annotation, "__args__", ())))}


def _message(err: Any) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing section" if err["loc"][-1] in _SECTIONS and len(err["loc"]) == 1 else "missing key"
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        return f"must be one of {allowed}, not {value!r}"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, not {type(value).__name__} {value!r}"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    if kind == "needs":  # a section's own rule: "key: why"
        return err["msg"]
    return f"{err['msg'].lower()} (got {value!r})"


def format_errors(path: Path, exc: ValidationError) -> str:
    """One line per problem, each naming the file and the key."""
    lines, seen = [], set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if len(loc) > 1 and isinstance(loc[-1], int) and loc[:-1] in seen:
            continue
        seen.add(loc)
        if err["type"] == "needs":  # names its key itself
            lines.append(f"{path}: [{'.'.join(map(str, loc))}] {_message(err)}")
        else:
            lines.append(f"{path}: {_key(loc, err.get('input'))}: {_message(err)}")
    return "\n".join(lines)


# -- loading --------------------------------------------------------------------
def _check_consistency(cfg: TargetConfig, where: str) -> None:
    b, c, n = cfg.board, cfg.console, cfg.network
    if cfg.lab is None:  # with a lab place, the place gives the GDB server and the console
        if b.driver == "gdb" and not b.gdb_server:
            raise ConfigError(f"{where}: [board] gdb_server: a gdb board needs 'gdb_server' (host:port)")
        if c.driver == "serial" and not c.port:
            raise ConfigError(f"{where}: [console] port: a serial console needs 'port'")
    elif b.driver != "gdb" or c.driver != "serial":
        raise ConfigError(f"{where}: [lab]: a lab place needs [board] driver = 'gdb' and [console] driver = 'serial'")
    if c.driver == "qemu-serial" and b.driver != "qemu":
        raise ConfigError(f"{where}: [console] driver: qemu-serial needs a qemu board")
    if n.mode == "tap" and b.driver != "qemu":
        raise ConfigError(f"{where}: [network] mode: tap mode needs a qemu board")
    subnet = ipaddress.IPv4Network(f"{n.server_ip}/{n.prefix_len}", strict=False)
    if ipaddress.IPv4Address(n.device_ip) not in subnet:
        raise ConfigError(f"{where}: [network] device_ip: {n.device_ip} is not on server_ip's subnet {subnet}")


def resolve_target_path(name_or_path: str | Path) -> Path:
    """A bare name means ``targets/<name>.toml``; anything else is a path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p.resolve()
    candidate = project_root() / "targets" / f"{name_or_path}.toml"
    if not candidate.exists():
        known = sorted(x.stem for x in (project_root() / "targets").glob("*.toml"))
        raise ConfigError(f"unknown target {name_or_path!r}; known: {', '.join(known)}")
    return candidate


def load_target(name_or_path: str | Path) -> TargetConfig:
    path = resolve_target_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if "path" in data:
        raise ConfigError(f"{path}: path: unknown key")
    try:
        cfg = TargetConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise ConfigError(format_errors(path, exc)) from None
    _check_consistency(cfg, str(path))
    board = cfg.board
    if not board.image.is_absolute():
        board = board.model_copy(update={"image": project_root() / board.image})
    capture = cfg.capture
    if not capture.interface and cfg.network.interface:
        capture = capture.model_copy(update={"interface": cfg.network.interface})
    return cfg.model_copy(update={"name": cfg.name or path.stem, "board": board, "capture": capture})
