#!/usr/bin/env python3
"""Boots a firmware image in QEMU the way the bench does and checks the platform.

Serial: the script listens first and QEMU connects (`-serial tcp:127.0.0.1:P`),
so no boot output is lost. Network: user mode with a filter-dump pcap.

  scripts/qemu-smoke.py --board mps2-an385 [--elf PATH] [--bulk 1048576] [--pcap x.pcap]

Checks: banner, hello, a malformed line (bad-request, still serving), busy,
tcp.bulk to a local sink over IPv4 (10.0.2.2 -> 127.0.0.1) and IPv6
(fec0::2 -> ::1) compared byte for byte with the fill pattern, sys.reset
(a second banner). Prints timings; exits non-zero on the first failure.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading
import time


def fill_pattern(n: int) -> bytes:
    out, k, size = [], 0, 0
    while size < n:
        line = (f".leading dot line {k:06d}\r\n" if k % 16 == 5
                else f"line {k:06d} the quick brown fox jumps over the lazy dog\r\n").encode()
        out.append(line)
        size += len(line)
        k += 1
    return b"".join(out)[:n]


class Console:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.log = []

    def line(self, timeout: float) -> bytes:
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line within {timeout}s (have {self.buf[:80]!r})")
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("console closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        self.log.append(line)
        return line

    def send(self, text: bytes) -> None:
        self.sock.sendall(text)

    def expect(self, prefix: bytes, timeout: float = 5.0) -> bytes:
        while True:
            line = self.line(timeout)
            if line.startswith(prefix):
                return line

    def request(self, tag: str, body: str, timeout: float = 5.0) -> bytes:
        self.send(f"{tag} {body}\n".encode())
        return self.expect(f"{tag} ".encode(), timeout)


class Sink(threading.Thread):
    """Accepts one TCP connection and keeps everything it receives."""

    def __init__(self, family: int, host: str):
        super().__init__(daemon=True)
        self.srv = socket.socket(family, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((host, 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.data = bytearray()
        self.done = threading.Event()

    def run(self) -> None:
        conn, _ = self.srv.accept()
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            self.data += chunk
        conn.close()
        self.srv.close()
        self.done.set()


def check(cond: bool, what: str) -> None:
    print(("PASS " if cond else "FAIL ") + what, flush=True)
    if not cond:
        raise SystemExit(1)


def main() -> int:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="mps2-an385")
    ap.add_argument("--elf")
    ap.add_argument("--bulk", type=int, default=1 << 20, help="tcp.bulk octets (0: skip)")
    ap.add_argument("--pcap")
    ap.add_argument("--quick", action="store_true", help="banner and hello only")
    a = ap.parse_args()
    elf = a.elf or os.path.join(here, "build", a.board, "firmware.elf")

    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    port = lsn.getsockname()[1]
    nic = "user,id=n0,model=lan9118"
    cmd = ["qemu-system-arm", "-M", a.board, "-nographic", "-monitor", "none",
           "-kernel", elf, "-nic", nic, "-serial", f"tcp:127.0.0.1:{port},nodelay=on"]
    if a.pcap:
        cmd[cmd.index("-serial"):cmd.index("-serial")] = [
            "-object", f"filter-dump,id=f0,netdev=n0,file={a.pcap}"]
    t0 = time.monotonic()
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        lsn.settimeout(10)
        conn, _ = lsn.accept()
        con = Console(conn)
        banner = con.expect(b"* boot ", 10)
        t_banner = time.monotonic() - t0
        print(f"banner after {t_banner * 1000:.0f} ms: {banner.decode()}")
        check(b"proto=1" in banner and f"board={a.board}".encode() in banner, "banner")

        r = con.request("1", "hello")
        check(r.startswith(b"1 ok proto=1 "), f"hello -> {r.decode()}")
        if a.quick:
            return 0

        t = time.monotonic()
        r = con.request("2", "sys.info")
        print(f"  sys.info round trip {(time.monotonic() - t) * 1000:.1f} ms")
        check(r.startswith(b"2 ok uptime_ms="), f"sys.info -> {r.decode()}")
        r = con.request("3", "net.info")
        check(b"ip=10.0.2.15" in r and b"mac=52:54:00:12:34:56" in r, f"net.info -> {r.decode()}")

        con.send(b"!!bad line\n")
        r = con.expect(b"* err ")
        check(b"code=bad-request" in r, f"bad tag -> {r.decode()}")
        r = con.request("4", "hello x=%zz")
        check(r.startswith(b"4 err code=bad-request"), f"bad encoding -> {r.decode()}")
        r = con.request("5", "hello " + "a=b " * 17)
        check(r.startswith(b"5 err code=bad-request"), f"17 args -> {r.decode()}")
        r = con.request("6", "hello pad=" + "x" * 520)
        check(r.startswith(b"6 err code=bad-request"), f"long line -> {r.decode()}")
        r = con.request("7", "no.such.verb")
        check(r.startswith(b"7 err code=unknown-verb"), f"unknown verb -> {r.decode()}")
        line = "8 hello pad=" + "y" * (511 - len("8 hello pad="))
        r = con.request("8", line[2:])
        check(r.startswith(b"8 ok"), "a 512-byte line (LF included) is accepted")
        r = con.request("9", "hello")
        check(r.startswith(b"9 ok"), "still serving")

        if a.bulk:
            for fam, bind, dst in ((socket.AF_INET, "127.0.0.1", "10.0.2.2"),
                                   (socket.AF_INET6, "::1", "fec0::2")):
                sink = Sink(fam, bind)
                sink.start()
                t = time.monotonic()
                r = con.request("b1", f"tcp.bulk host={dst} port={sink.port} octets={a.bulk}", 60)
                wall = time.monotonic() - t
                # busy check while a bulk runs is racy at this speed; see below
                check(r.startswith(b"b1 ok"), f"tcp.bulk {dst} -> {r.decode()}")
                sink.done.wait(10)
                f = dict(kv.split(b"=", 1) for kv in r.split()[2:])
                ms = int(f[b"ms"])
                exact = bytes(sink.data) == fill_pattern(a.bulk)
                check(exact, f"{dst}: {len(sink.data)} bytes byte-exact vs fill pattern")
                rate = a.bulk / max(ms, 1) * 1000 / 1e6
                print(f"  {dst}: {a.bulk} octets, device ms={ms} ({rate:.1f} MB/s), "
                      f"request wall {wall * 1000:.0f} ms")

            # busy: a second request while a bulk to a silent listener is connecting
            hold = socket.socket()
            hold.bind(("127.0.0.1", 0))
            hold.listen(1)
            con.send(f"c1 tcp.bulk host=10.0.2.2 port={hold.getsockname()[1]} octets=100000000 timeout_ms=2000\n".encode())
            time.sleep(0.3)
            r = con.request("c2", "hello")
            check(r.startswith(b"c2 err code=busy"), f"busy -> {r.decode()}")
            hold.close()
            r = con.expect(b"c1 ", 10)
            check(b"c1 err" in r, f"bulk to a closed listener ends in err -> {r.decode()}")
            sink = Sink(socket.AF_INET, "127.0.0.1")
            dead = sink.port
            sink.srv.close()
            r = con.request("c3", f"tcp.bulk host=10.0.2.2 port={dead} octets=10", 10)
            check(r.startswith(b"c3 err code=connect"), f"refused -> {r.decode()}")

        r = con.request("n1", "net.config ip=10.0.2.16 mask=255.255.255.0 gw=10.0.2.2 ip6=fec0::16")
        check(r == b"n1 ok", f"net.config -> {r.decode()}")
        r = con.request("n2", "net.info")
        check(b"ip=10.0.2.16 " in r and b"ip6=fec0::16 " in r, f"net.info -> {r.decode()}")
        if a.bulk:
            sink = Sink(socket.AF_INET6, "::1")
            sink.start()
            r = con.request("n3", f"tcp.bulk host=fec0::2 port={sink.port} octets=100000", 20)
            sink.done.wait(10)
            check(r.startswith(b"n3 ok") and bytes(sink.data) == fill_pattern(100000),
                  f"tcp.bulk from fec0::16 -> {r.decode()}")
        r = con.request("n4", "net.config ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2 ip6=fec0::15")
        check(r == b"n4 ok", "net.config back to the defaults")
        r = con.request("n5", "net.config ip=10.0.2.300 mask=255.255.255.0 gw=10.0.2.2")
        check(r.startswith(b"n5 err code=bad-arg"), f"bad address -> {r.decode()}")

        r = con.request("i2", "sys.info")
        print(f"  after: {r.decode()}")
        t = time.monotonic()
        con.send(b"r1 sys.reset\n")
        banner2 = con.expect(b"* boot ", 10)
        check(True, f"sys.reset -> new banner after {(time.monotonic() - t) * 1000:.0f} ms")
        r = con.request("r2", "hello")
        check(r.startswith(b"r2 ok"), "hello after reset")
        return 0
    finally:
        qemu.kill()
        qemu.wait()


if __name__ == "__main__":
    sys.exit(main())
