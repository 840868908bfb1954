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
        ("name='x'\n", r"\[board\]: missing section"),
        ("[board]\ndriver='jtagulator'\nimage='x'\n", r"\[board\] driver: must be one of 'qemu', 'pyocd', 'gdb' or 'native', not 'jtagulator'"),
        ("[board]\ndriver='qemu'\nimage='x'\n", r"\[board\] machine: a qemu board needs 'machine'"),
        ("[board]\ndriver='pyocd'\nimage='x'\n", r"\[board\] pyocd_target: a pyocd board needs"),
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
        ("mode='nic'\ndevice_ip='board.local'\nserver_ip='198.51.100.1'\n", "device_ip: 'board.local' is not an IPv4"),
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


_NET = "[network]\nmode='user'\ndevice_ip='10.0.2.15'\nserver_ip='10.0.2.2'\n"


@pytest.mark.parametrize(
    "edit,line",
    [
        (("mode='user'", "mode='usr'"), "[network] mode: must be one of 'user', 'tap', 'nic' or 'veth', not 'usr'"),
        (("", "[capture]\nsource='tcpdumpx'\n"),
         "[capture] source: must be one of 'filter-dump', 'live' or 'none', not 'tcpdumpx'"),
        (("driver='qemu'", "driver='qemux'"), "[board] driver: must be one of 'qemu', 'pyocd', 'gdb' or 'native', not 'qemux'"),
        (("driver='qemu-serial'", "driver='tty'"), "[console] driver: must be one of 'qemu-serial', 'serial' or 'pty'"),
        (("image='x'", "image='x'\nextra_args='-s'"), "[board] extra_args: must be a list of strings, not str '-s'"),
        (("image='x'", "image='x'\nextra_args=['-s', 1]"), "[board] extra_args[1]: must be a string, not int 1"),
        (("image='x'", "image='x'\nprob='cafe'"), "[board] prob: unknown key"),
        (("", "[capture]\nsource='live'\nifname='eth0'\n"), "[capture] ifname: unknown key"),
        (("", "[farm]\nroom=3\n"), "[farm]: unknown key"),
        (("[console]", "colour='red'\n[console]"), "[board] colour: unknown key"),
        (("mode='user'", "mode='user'\nmtu='1500'"), "[network] mtu: must be an integer, not str '1500'"),
        (("mode='user'", "mode='user'\nprefix_len=33"), "[network] prefix_len: input should be less than or equal to 32"),
        (("mode='user'", "mode='user'\nbind='127.0.0.1'"), "[network] bind: must be a list of strings"),
        (("mode='user'", "mode='user'\nbind=['localhost']"), "[network] bind: 'localhost' is not an IP address"),
        (("mode='user'", "mode='user'\nserver_ip6='10.0.2.2'"), "[network] server_ip6: '10.0.2.2' is not an IPv6 address"),
        (("baudrate", "baudrate"), None),
        (("driver='qemu-serial'", "driver='qemu-serial'\nbaudrate=true"), "[console] baudrate: must be an integer"),
        (("image='x'", "image=3"), "[board] image: must be a path"),
        (("[board]", "path='/etc'\n[board]"), "path: unknown key"),
        (("[board]", "expect=[1]\n[board]"), "expect: must be a table"),
    ],
)
def test_each_bad_key_is_one_line_naming_file_and_key(tmp_path: Path, edit: tuple[str, str], line: str | None) -> None:
    path = tmp_path / "bad.toml"
    old, new = edit
    text = _BOARD + _NET
    path.write_text(text.replace(old, new, 1) if old else text + new)
    if line is None:  # the unedited file loads
        assert load_target(path).network.mode == "user"
        return
    with pytest.raises(ConfigError) as exc:
        load_target(path)
    lines = str(exc.value).splitlines()
    assert lines == [f"{path}: {line}"] or (len(lines) == 1 and lines[0].startswith(f"{path}: {line}")), lines


def test_every_problem_of_a_file_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_BOARD.replace("image='x'", "image='x'\nprob=1") + _NET.replace("'user'", "'usr'"))
    with pytest.raises(ConfigError) as exc:
        load_target(path)
    assert str(exc.value).splitlines() == [f"{path}: [board] prob: unknown key",
                                           f"{path}: [network] mode: must be one of 'user', 'tap', 'nic' or 'veth', not 'usr'"]


def test_extra_args_stay_whole_words(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(_BOARD.replace("image='x'", "image='x'\nextra_args=['-s', '-d', 'int']") + _NET)
    cfg = load_target(path)
    assert cfg.board.extra_args == ("-s", "-d", "int")
    assert cfg.capture.source == "none" and cfg.name == "x"


def test_config_is_immutable() -> None:
    cfg = load_target("mps2-an385")
    with pytest.raises(Exception):
        cfg.network.mode = "tap"  # type: ignore[misc]
