"""Sessions per second of the server emulators against reference servers, on loopback.

SMTP: one mail per session with smtplib (EHLO, MAIL, RCPT, DATA, QUIT), against
our SmtpEmulator and aiosmtpd's stock Sink handler; our emulator again with
AUTH PLAIN. POP3: login, STAT, RETR 1, QUIT with poplib, against our
Pop3Emulator and dovecot-pop3d (started here on 127.0.0.1 with a config in a
temp dir, stopped at the end; skipped when not installed).

Run: ``python benchmarks/bench_servers.py [--sessions N] [--seconds S]``.
Each measurement is bounded by both a session count and a time limit.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import poplib
import smtplib
import sys
import time
from collections.abc import Callable, Iterator

from bench.servers import real
from bench.servers.maildrop import Maildrop
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator

USER, PASSWORD = "bench", "bench-pw"
MESSAGE = (b"From: a@bench.test\r\nTo: b@bench.test\r\nSubject: benchmark\r\n\r\n"
           + b"A line of body text for the benchmark, seventy-odd octets long....\r\n" * 60)


def measure(one: Callable[[], None], sessions: int, seconds: float) -> tuple[float, int]:
    """Sessions per second over at most ``sessions`` sessions or ``seconds``, after a warm-up."""
    for _ in range(3):
        one()
    n, t0 = 0, time.perf_counter()
    while n < sessions and time.perf_counter() - t0 < seconds:
        one()
        n += 1
    return n / (time.perf_counter() - t0), n


def smtp_session(port: int, auth: bool) -> Callable[[], None]:
    def one() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.bench.test", timeout=5) as c:
            if auth:
                c.login(USER, PASSWORD)
            c.sendmail("a@bench.test", ["b@bench.test"], MESSAGE)
    return one


def pop3_session(port: int) -> Callable[[], None]:
    def one() -> None:
        c = poplib.POP3("127.0.0.1", port, timeout=5)
        c.user(USER)
        c.pass_(PASSWORD)
        count, _ = c.stat()
        assert count == 1
        c.retr(1)
        c.quit()
    return one


@contextlib.contextmanager
def aiosmtpd_sink() -> Iterator[int]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    port = real.free_port()
    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port
    finally:
        ctl.stop()


@contextlib.contextmanager
def dovecot_pop3() -> Iterator[int | None]:
    """dovecot on 127.0.0.1 with one user and one message; None if not installed."""
    if not os.path.exists(real.DOVECOT):
        yield None
        return
    with real.dovecot(USER, PASSWORD, (MESSAGE,)) as d:
        yield d.port


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=500, help="at most this many sessions per figure")
    ap.add_argument("--seconds", type=float, default=5.0, help="at most this long per figure")
    args = ap.parse_args(argv)
    rows: list[tuple[str, float, int]] = []

    def row(name: str, one: Callable[[], None]) -> float:
        rate, n = measure(one, args.sessions, args.seconds)
        rows.append((name, rate, n))
        print(f"{name:<44} {rate:8.1f} sessions/s  ({n} sessions)", flush=True)
        return rate

    print(f"message {len(MESSAGE)} octets; loopback; sequential sessions")
    with SmtpEmulator(bind="127.0.0.1", quit_wait=1.0) as srv:
        ours = row("smtp  SmtpEmulator (no auth)", smtp_session(srv.port, False))
    with SmtpEmulator(bind="127.0.0.1", users={USER: PASSWORD}) as srv:
        row("smtp  SmtpEmulator (AUTH PLAIN)", smtp_session(srv.port, True))
    with aiosmtpd_sink() as port:
        ref = row("smtp  aiosmtpd Controller + Sink (no auth)", smtp_session(port, False))
    print(f"ratio smtp ours/aiosmtpd = {ours / ref:.2f}")

    drops = {USER: Maildrop(password=PASSWORD, messages=[MESSAGE])}
    with Pop3Emulator(bind="127.0.0.1", maildrops=drops) as srv:
        ours = row("pop3  Pop3Emulator", pop3_session(srv.port))
    with dovecot_pop3() as port:
        if port is None:
            print("pop3  dovecot-pop3d not installed: no reference figure")
        else:
            ref = row("pop3  dovecot-pop3d", pop3_session(port))
            print(f"ratio pop3 ours/dovecot = {ours / ref:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
