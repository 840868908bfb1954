"""Offloads on capture interfaces: read and turned off by ioctl, checked against ``ethtool -k`` (root).

A veth pair comes up with TSO and GSO on, as a host NIC does: the bench must
see that, turn it off on an interface it owns, leave a given one alone and
record what it found in the capture's stats.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from bench.capture.offload import FEATURES, disable_offloads, read_offloads
from bench.capture.live import LiveCapture

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: veth devices")]


@pytest.fixture
def veth():  # type: ignore[no-untyped-def]
    name = f"mbo{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], check=True,
                   capture_output=True, timeout=10)
    subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True, timeout=10)
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=10)


def _ethtool(iface: str) -> dict[str, bool]:
    if shutil.which("ethtool") is None:
        pytest.skip("ethtool is not installed (scripts/setup installs it)")
    out = subprocess.run(["ethtool", "-k", iface], check=True, capture_output=True, text=True, timeout=10).stdout
    feats = {}
    for line in out.splitlines()[1:]:
        name, _, value = line.strip().partition(": ")
        feats[name] = value.startswith("on")
    return feats


#: kernel feature names that ``ethtool -k`` prints under their old names
ALIASES = {"tx-generic-segmentation": "generic-segmentation-offload", "rx-gro": "generic-receive-offload",
           "rx-lro": "large-receive-offload"}


def _expected(feats: dict[str, bool]) -> dict[str, bool]:
    return {k: any(feats.get(ALIASES.get(f, f), False) for f in names) for k, names in FEATURES.items()}


def test_veth_defaults_read_as_ethtool_shows_them(veth: str):
    state = read_offloads(veth)
    assert {k: getattr(state, k) for k in FEATURES} == _expected(_ethtool(veth))
    assert state.tso and state.gso and not state.honest  # a veth's defaults
    assert state.hint.startswith(f"ethtool -K {veth} tso off gso off")
    assert "captured frames may be larger" in state.describe()


def test_disable_turns_every_segmentation_and_receive_offload_off(veth: str):
    state = disable_offloads(veth)
    assert state.honest and state.changed_by_bench and state.on == ()
    feats = _ethtool(veth)
    assert not any(_expected(feats).values()), feats
    assert not feats["tcp-segmentation-offload"] and not feats["generic-receive-offload"]


def test_capture_turns_offloads_off_only_on_an_owned_interface(veth: str, tmp_path: Path):
    given = LiveCapture(veth, tmp_path / "given.pcap")
    given.start()
    given.stop()
    assert given.stats is not None and given.stats.offloads is not None
    assert set(given.stats.offloads["on"]) >= {"tso", "gso"}  # recorded, not changed
    assert read_offloads(veth).tso
    owned = LiveCapture(veth, tmp_path / "owned.pcap", owned=True)
    owned.start()
    owned.stop()
    assert owned.stats is not None and owned.stats.offloads is not None
    assert owned.stats.offloads["on"] == [] and owned.stats.offloads["changed_by_bench"]
    assert read_offloads(veth).honest
