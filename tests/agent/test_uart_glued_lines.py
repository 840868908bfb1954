"""A reset cuts the line in flight: the banner then arrives glued to half a line, with
no LF between them. Over a real pty and pyserial, the client must still see the banner
(at once, not after its timeout) and must not take the half line for a reply."""
from __future__ import annotations

import os
import threading
import time

import pytest

from bench.agent.client import GLUED_NOTE, DeviceFault

BANNER = b"* boot proto=1 fw=t/1 board=pty caps=pop3"


def test_banner_glued_to_half_a_data_line_is_seen_at_once(pty_client) -> None:
    master, client = pty_client
    os.write(master, BANNER.replace(b"t/1", b"t/0") + b"\n")
    client.wait_banner(timeout=2)
    os.write(master, b"5 data QUJDREVGR0hJSktMTU5PUFFS")  # cut mid-line by the reset
    os.write(master, BANNER + b" mtu=1500\n")
    t0 = time.monotonic()
    banner = client.wait_banner(timeout=5)
    assert time.monotonic() - t0 < 1.0
    assert banner.fields["fw"] == "t/1" and banner.fields["mtu"] == "1500"
    lines = [r.line for r in client.log.records]
    assert b"5 data QUJDREVGR0hJSktMTU5PUFFS" + GLUED_NOTE in lines  # kept, marked as noise
    assert BANNER + b" mtu=1500" in lines


def test_half_a_reply_before_a_reboot_is_not_taken_for_the_reply(pty_client) -> None:
    """``1 ok count=1 oct`` parses as a whole reply; cut by a reboot it must not end the request."""
    master, client = pty_client

    def device() -> None:
        request = b""
        while not request.endswith(b"\n"):
            request += os.read(master, 64)
        os.write(master, request.split(b" ")[0] + b" ok count=1 oct" + BANNER + b"\n")

    t = threading.Thread(target=device, daemon=True)
    t.start()
    with pytest.raises(DeviceFault, match="boot"):
        client.request("pop3.stat", timeout=5)
    t.join(timeout=2)
    assert [b.fields["fw"] for b in client.banners] == ["t/1"]
