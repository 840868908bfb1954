"""Helpers for the emulator tests: a raw socket client and real-client runners."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

PASSWORD = "s3cret-pw"


def need(binary: str) -> str:
    """The path of a client binary, or skip the test saying what is missing."""
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (CI installs curl, fetchmail, swaks, msmtp)")
    return path


def run(argv: list[str], timeout: float = 15, env: dict[str, str] | None = None,
        input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, timeout=timeout, input=input,
                          env={**os.environ, **(env or {})})


class Raw:
    """A plain TCP client that shows exactly the bytes the server sent."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 3.0) -> None:
        self.buf = b""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # A server that resets at once can do so before this process returns
        # from connect(): the kernel then reports the RST as connect's error.
        # That is the same thing on the wire as a reset read later, so it is
        # kept and reported by read_for, not raised here.
        self.reset_at_connect = False
        try:
            self.sock.connect((host, port))
        except ConnectionResetError:
            self.reset_at_connect = True

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_until(self, end: bytes, timeout: float = 3.0) -> bytes:
        """Bytes up to and including ``end`` (AssertionError if it never comes)."""
        deadline = time.monotonic() + timeout
        while end not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {end!r} within {timeout}s; got {self.buf!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"closed before {end!r}; got {self.buf!r}")
            self.buf += chunk
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def line(self) -> bytes:
        return self.recv_until(b"\r\n")

    def cmd(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.line()

    def read_for(self, seconds: float) -> tuple[bytes, str]:
        """Everything until close, reset or ``seconds`` pass: (bytes, "eof"|"reset"|"timeout")."""
        deadline = time.monotonic() + seconds
        out, self.buf = self.buf, b""
        if self.reset_at_connect:
            return out, "reset"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, "timeout"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return out, "timeout"
            except ConnectionResetError:
                return out, "reset"
            if not chunk:
                return out, "eof"
            out += chunk

    def close(self) -> None:
        self.sock.close()


def all_bytes(session) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(ln.data for ln in session.lines)


def assert_no_secret(sessions, secret: str = PASSWORD, user: str = "device") -> None:  # type: ignore[no-untyped-def]
    """Neither the password nor its base64/PLAIN forms appear in any transcript."""
    import base64

    forms = [secret.encode(), base64.b64encode(secret.encode()),
             base64.b64encode(b"\0" + user.encode() + b"\0" + secret.encode())]
    for s in sessions:
        blob = all_bytes(s) + " ".join(ln.note for ln in s.lines).encode()
        for f in forms:
            assert f not in blob, f"secret form {f!r} in session {s.id}"
        for ln in s.lines:
            if ln.direction == "c>s" and ln.data[:4].upper() in (b"APOP", b"AUTH"):
                assert b"*" * 8 in ln.data or len(ln.data.split()) < 3


def write_rc(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path
