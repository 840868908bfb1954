"""RETR over the UART: the digest when it matches what the server holds; the bytes,
fetched right after, only when it does not (the evidence of a byte-level diff)."""
from __future__ import annotations

import base64
import hashlib
import os
import threading

from bench.agent.device import Device
from bench.workload.runner import WorkloadRunner

HELD = b"Subject: x\r\n\r\n.dotted\r\n"
STUFFED = HELD.replace(b".dotted", b"..dotted")


def read_request(master: int) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        line += os.read(master, 1)
    return line[:-1]


def device(master: int, delivered: bytes, requests: list[bytes], count: int) -> None:
    """Answers ``count`` RETRs as a device that delivered ``delivered``."""
    for _ in range(count):
        line = read_request(master)
        requests.append(line)
        tag = line.split(b" ")[0]
        if b"mode=data" in line:
            os.write(master, tag + b" data " + base64.b64encode(delivered) + b"\n")
        digest = b"octets=%d md5=%s" % (len(delivered), hashlib.md5(delivered).hexdigest().encode())
        os.write(master, tag + b" ok n=1 " + digest + b" segments=1\n")


def retr(pty_client, delivered: bytes, known: bytes | None) -> tuple[list, list[bytes]]:  # type: ignore[no-untyped-def]
    """What the runner asks, and what it keeps, for RETR 1 of a message it knows (or not)."""
    master, client = pty_client
    requests: list[bytes] = []
    expected = 1 if known is None or known == delivered else 2
    t = threading.Thread(target=device, args=(master, delivered, requests, expected), daemon=True)
    t.start()
    runner = WorkloadRunner(Device(client), config=None, tap=None)  # type: ignore[arg-type]
    ops = runner._retr(1, known)
    t.join(timeout=5)
    assert not t.is_alive()
    return ops, requests


def test_matching_digest_is_all_that_crosses_the_uart(pty_client) -> None:
    ops, requests = retr(pty_client, HELD, HELD)
    assert [r.split(b" ", 1)[1] for r in requests] == [b"pop3.retr n=1"]
    assert len(ops) == 1 and ops[0].data == b""


def test_wrong_digest_fetches_the_bytes_at_once(pty_client) -> None:
    ops, requests = retr(pty_client, STUFFED, HELD)
    assert [r.split(b" ", 1)[1] for r in requests] == [b"pop3.retr n=1", b"pop3.retr n=1 mode=data"]
    assert ops[1].data == STUFFED and ops[1].args["mode"] == "data"


def test_unknown_message_is_fetched_as_data(pty_client) -> None:
    """A real server's maildrop is known only from the capture afterwards."""
    ops, requests = retr(pty_client, HELD, None)
    assert [r.split(b" ", 1)[1] for r in requests] == [b"pop3.retr n=1 mode=data"] and ops[0].data == HELD
