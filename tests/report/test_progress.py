"""The progress bar in a real terminal (a pty), and its absence in CI."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from pathlib import Path

SLOW_TESTS = '''
import time
import pytest

@pytest.mark.criterion("SMTP-MAIL-1")
@pytest.mark.parametrize("n", ["plain", "bold", "red", "login"])  # ids that look like rich markup
def test_slow(n):
    print("output a test makes")  # captured by pytest: must not reach the bar's line
    time.sleep(0.4)
'''


def _run_in_pty(tmp_path: Path, **env: str) -> list[tuple[float, bytes]]:
    """pytest on four slow criterion tests with a pty as its terminal: (arrival time, bytes) chunks."""
    test = tmp_path / "test_slow.py"
    test.write_text(SLOW_TESTS)
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40", **env)
    pid, fd = pty.fork()
    if pid == 0:  # the child: pytest with the pty as stdin, stdout and stderr
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                  environ)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[tuple[float, bytes]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append((time.monotonic(), data))
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, b"".join(c for _, c in chunks).decode(errors="replace")
    return chunks


def _plain(out: bytes) -> bytes:
    """Terminal output without its escape sequences (colours, cursor moves)."""
    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", out)


def _first(chunks: list[tuple[float, bytes]], needle: bytes) -> float:
    seen = b""
    for t, c in chunks:
        seen += c
        if needle in seen:
            return t
    raise AssertionError(f"{needle!r} never drawn")


def test_bar_moves_while_tests_run_and_is_erased(tmp_path: Path) -> None:
    chunks = _run_in_pty(tmp_path)
    out = b"".join(c for _, c in chunks)
    # N of M drawn as each test ends, not all at once at the end: the bar is live, not stuck
    times = [_first(chunks, f"{n}/4".encode()) for n in range(5)]
    assert times == sorted(times) and times[4] - times[1] > 0.8, times
    assert b"test_slow[bold]" in out and b"test_slow[red]" in out  # which test runs, its id shown as it is
    assert b"\xe2\x94\x81" in out  # the bar (rich's heavy horizontal line)
    # pytest's letters are not appended to the bar, captured output stays captured
    assert b"...." not in _plain(out) and b"output a test makes" not in out
    # erased before pytest's summary: rich erases the bar's line, then the summary follows
    tail = out[out.rindex(b"4/4"):]
    assert b"\x1b[2K" in tail and tail.index(b"\x1b[2K") < tail.index(b"4 passed")


def test_no_bar_in_ci(tmp_path: Path) -> None:
    out = b"".join(c for _, c in _run_in_pty(tmp_path, CI="1"))
    assert b"\xe2\x94\x81" not in out and b"1/4" not in out
    assert b"...." in _plain(out) and b"4 passed" in out  # pytest's own letters instead
