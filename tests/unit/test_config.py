from pathlib import Path

import pytest

from bench.config import ConfigError, load_target


@pytest.mark.parametrize("name", ["mps2-an385", "mps2-an386", "mps2-an500"])
def test_emulated_targets_load(name: str) -> None:
    cfg = load_target(name)
    assert cfg.board.driver == "qemu" and cfg.board.machine == name
    assert cfg.console.driver == "qemu-serial"
    assert cfg.network.server_ip == "10.0.2.2" and cfg.network.server_ip6 == "fec0::2"
    assert cfg.capture.source == "filter-dump"
    assert cfg.board.image.is_absolute()


def test_real_board_example_is_a_config_change_only() -> None:
    cfg = load_target("example-real-board")
    assert cfg.board.driver == "pyocd" and cfg.console.driver == "serial" and cfg.capture.source == "live"


def test_unknown_target_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="mps2-an385"):
        load_target("no-such-board")


@pytest.mark.parametrize(
    "text,message",
    [
        ("name='x'\n", r"\[board\]"),
        ("[board]\ndriver='jtagulator'\nimage='x'\n", "qemu or pyocd"),
        ("[board]\ndriver='qemu'\nimage='x'\n", "machine"),
        ("[board]\ndriver='pyocd'\nimage='x'\n", "pyocd_target"),
        ("[board\n", "x.toml"),
    ],
)
def test_malformed_target_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_target(path)


_BOARD = "[board]\ndriver='qemu'\nmachine='mps2-an385'\nimage='x'\n[console]\ndriver='qemu-serial'\n"


@pytest.mark.parametrize(
    "network,message",
    [
        ("mode='nic'\ndevice_ip='198.51.100.15'\nserver_ip='198.51.101.1'\n", "not on server_ip's subnet 198.51.101.0/24"),
        ("mode='nic'\ndevice_ip='198.51.100.20'\nserver_ip='198.51.100.1'\nprefix_len=28\n",
         "not on server_ip's subnet 198.51.100.0/28"),
        ("mode='nic'\ndevice_ip='board.local'\nserver_ip='198.51.100.1'\n", "board.local"),
    ],
)
def test_network_addresses_are_checked(tmp_path: Path, network: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(_BOARD + "[network]\n" + network)
    with pytest.raises(ConfigError, match=message):
        load_target(path)


def test_prefix_len_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(_BOARD + "[network]\nmode='nic'\ndevice_ip='198.51.100.5'\nserver_ip='198.51.100.1'\nprefix_len=28\n")
    assert load_target(path).network.prefix_len == 28
