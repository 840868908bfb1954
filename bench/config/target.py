"""Target files: a board, its console, its network and how it is captured.

A target file (TOML, under ``targets/``) describes resources only. Which driver
serves them is named here too, so moving from the emulated board to a real one
is a different file, not different code.
"""
from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


class ConfigError(ValueError):
    """A target file is missing, malformed or inconsistent."""


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BoardConfig:
    driver: Literal["qemu", "pyocd"]
    image: Path
    machine: str = ""  # qemu
    cpu: str = ""  # qemu
    pyocd_target: str = ""  # pyocd
    probe: str = ""  # pyocd probe unique ID; "" = the only one
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleConfig:
    driver: Literal["qemu-serial", "serial"]
    port: str = ""  # serial: device path or pyserial URL
    baudrate: int = 115200


@dataclass(frozen=True)
class NetworkConfig:
    mode: Literal["user", "tap", "nic"]
    device_ip: str
    server_ip: str  # the address the device dials to reach the host's servers
    server_ip6: str | None
    bind: tuple[str, ...]  # where the server emulators listen
    device_ip6: str | None = None
    prefix_len: int = 24  # IPv4 subnet of device_ip and server_ip
    mtu: int = 1500
    interface: str = ""  # nic mode: host interface cabled to the board


@dataclass(frozen=True)
class CaptureConfig:
    source: Literal["filter-dump", "live", "none"]
    interface: str = ""


@dataclass(frozen=True)
class TargetConfig:
    name: str
    description: str
    path: Path
    board: BoardConfig
    console: ConsoleConfig
    network: NetworkConfig
    capture: CaptureConfig
    #: expectations where the seed leaves behaviour open (see REQUIREMENTS.md)
    expect: dict[str, Any] = field(default_factory=dict)


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    sec = data.get(name)
    if not isinstance(sec, dict):
        raise ConfigError(f"{path}: missing [{name}] section")
    return sec


def _require(sec: dict[str, Any], key: str, where: str) -> Any:
    if key not in sec:
        raise ConfigError(f"{where}: missing key {key!r}")
    return sec[key]


def _check_subnet(net: NetworkConfig, where: str) -> None:
    """device_ip and server_ip are IPv4 addresses on one subnet of ``prefix_len`` bits."""
    try:
        subnet = ipaddress.IPv4Network(f"{net.server_ip}/{net.prefix_len}", strict=False)
        device = ipaddress.IPv4Address(net.device_ip)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if device not in subnet:
        raise ConfigError(f"{where}: device_ip {device} is not on server_ip's subnet {subnet}")


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
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    where = str(path)
    b = _section(data, "board", path)
    driver = _require(b, "driver", f"{where} [board]")
    if driver not in ("qemu", "pyocd"):
        raise ConfigError(f"{where} [board]: driver must be qemu or pyocd, not {driver!r}")
    image = Path(_require(b, "image", f"{where} [board]"))
    if not image.is_absolute():
        image = project_root() / image
    board = BoardConfig(
        driver=driver,
        image=image,
        machine=b.get("machine", ""),
        cpu=b.get("cpu", ""),
        pyocd_target=b.get("pyocd_target", ""),
        probe=b.get("probe", ""),
        extra_args=tuple(b.get("extra_args", ())),
    )
    if driver == "qemu" and not board.machine:
        raise ConfigError(f"{where} [board]: a qemu board needs 'machine'")
    if driver == "pyocd" and not board.pyocd_target:
        raise ConfigError(f"{where} [board]: a pyocd board needs 'pyocd_target'")

    c = _section(data, "console", path)
    console = ConsoleConfig(
        driver=_require(c, "driver", f"{where} [console]"),
        port=c.get("port", ""),
        baudrate=int(c.get("baudrate", 115200)),
    )
    if console.driver == "serial" and not console.port:
        raise ConfigError(f"{where} [console]: a serial console needs 'port'")
    if console.driver == "qemu-serial" and driver != "qemu":
        raise ConfigError(f"{where}: console driver qemu-serial needs a qemu board")

    n = _section(data, "network", path)
    network = NetworkConfig(
        mode=_require(n, "mode", f"{where} [network]"),
        device_ip=_require(n, "device_ip", f"{where} [network]"),
        server_ip=_require(n, "server_ip", f"{where} [network]"),
        server_ip6=n.get("server_ip6"),
        device_ip6=n.get("device_ip6"),
        bind=tuple(n.get("bind", ("127.0.0.1",))),
        prefix_len=int(n.get("prefix_len", 24)),
        mtu=int(n.get("mtu", 1500)),
        interface=n.get("interface", ""),
    )
    _check_subnet(network, f"{where} [network]")
    cap = data.get("capture", {"source": "none"})
    capture = CaptureConfig(source=cap.get("source", "none"), interface=cap.get("interface", network.interface))
    return TargetConfig(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        path=path,
        board=board,
        console=console,
        network=network,
        capture=capture,
        expect=dict(data.get("expect", {})),
    )
