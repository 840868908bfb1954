"""The native board (targets/native): the agent SDK in threaded mode over POSIX
sockets, in a network namespace behind a veth pair the bench makes. Its own
build, the namespace made and removed, the banner on a pty, `busy` answered
while the worker blocks in a mail call, `sys.reset` on the same pty."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.agent.client import AgentError
from bench.config import load_target, project_root
from bench.session import BenchSession, bench_session

NATIVE = project_root() / "targets" / "native"
CFG = load_target("native")

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="the native board needs root")]


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines() if "mbv" in ln}


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    run = subprocess.run(["make", "-C", str(NATIVE)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture
def session(tmp_path: Path) -> Iterator[BenchSession]:
    before = links()
    with bench_session(CFG, tmp_path) as s:
        s.boot()
        assert links() - before, "no veth pair while the board runs"
        yield s
    assert links() <= before, "veth pair left behind"
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"mbv{os.getpid()}x" not in ns, "namespace left behind"


def test_banner_and_identity(session: BenchSession) -> None:
    info = session.device.hello()
    assert info.board == "native" and info.ip == CFG.network.device_ip and info.ip6 == CFG.network.device_ip6
    assert {"pop3", "smtp", "timeout-arg", "pop3.noop"} <= info.caps and "tcp.bulk" not in info.caps
    net = session.device.agent.request("net.info")
    assert net.fields["gw"] == CFG.network.server_ip.encode() and net.fields["mac"] != b"00:00:00:00:00:00"
    mem = session.device.memory()
    assert mem.pcb_free == mem.pcb_total > 0 and mem.pool_free == mem.pool_total > 0


def test_busy_while_the_worker_blocks(session: BenchSession) -> None:
    """A server that accepts and stays silent: pop3.open blocks on the worker for its
    timeout, and a request sent meanwhile gets busy from the UART thread."""
    srv = socket.create_server((CFG.network.server_ip, 0))
    port = srv.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(srv.accept()[0]), daemon=True).start()
    agent = session.device.agent
    agent.send("pop3.open", host=CFG.network.server_ip, port=str(port), timeout_ms="1500", **{"user": "u", "pass": "p"})
    deadline = time.monotonic() + 15
    while not accepted:  # the worker is connected and blocks on the greeting that never comes
        assert time.monotonic() < deadline, "pop3.open never connected"
        time.sleep(0.01)
    t0 = time.monotonic()
    with pytest.raises(AgentError) as err:
        agent.request("hello")
    # busy, and while the open still blocks (its 1.5 s run from the connect): from the UART thread
    assert err.value.reply.fields["code"] == b"busy" and time.monotonic() - t0 < 1.5
    while True:  # the open times out; the agent is free again
        try:
            assert session.device.hello().board == "native"
            break
        except AgentError as exc:
            assert exc.reply.fields["code"] == b"busy" and time.monotonic() < deadline + 15, exc
            time.sleep(0.1)
    for c in accepted:
        c.close()
    srv.close()


def test_reset_reexecutes_on_the_same_pty(session: BenchSession) -> None:
    port = session.target.console.open()
    session.device.reset()
    assert session.target.console.open() is port and session.target.board.alive()
    assert session.device.hello().board == "native"
