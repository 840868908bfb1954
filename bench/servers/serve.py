"""``bench serve``: run the POP3 and SMTP emulators by hand at a lab bench.

Example: ``bench serve --user device:s3cret --maildir mail/ --transcript-dir out/``
then point the board at the host. Ctrl-C stops; transcripts are written as
each session ends (``pop3-transcript.txt``, ``smtp-transcript.txt``, stored mail
as ``smtp-message-N.eml``) and as JSON at exit.
"""
from __future__ import annotations

import argparse
import contextlib
import mailbox
import signal
import sys
import threading
import time
from pathlib import Path

from bench.cli import plain
from bench.servers.faults import FaultPlan
from bench.servers.maildrop import Maildrop, mail_format
from bench.servers.pop3 import Pop3Emulator
from bench.servers.smtp import SmtpEmulator
from bench.servers.transcript import Session, Transcript


DEFAULT_CAPA: tuple[str, ...] = tuple(Pop3Emulator.__init__.__kwdefaults__["capabilities"])  # type: ignore[index]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench serve", description=plain(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pop3-port", type=int, default=1110, help="POP3 port (0: any free, -1: no POP3)")
    p.add_argument("--smtp-port", type=int, default=2525, help="SMTP port (0: any free, -1: no SMTP)")
    p.add_argument("--bind", action="append", metavar="ADDR",
                   help="listen address, repeatable (default 127.0.0.1 and ::1)")
    p.add_argument("--user", action="append", metavar="NAME:PASSWORD", default=[],
                   help="an account on both servers, repeatable")
    p.add_argument("--maildir", type=Path, help="messages for POP3: a Maildir (cur/, new/), an mbox file or a "
                   "directory with one file per message; a Maildir, mbox or directory named after a user "
                   "inside it holds that user's only")
    p.add_argument("--fault-plan", type=Path, help="fault plan JSON ({\"rules\": [...]})")
    p.add_argument("--transcript-dir", type=Path, help="where transcripts and stored mail go")
    p.add_argument("--no-apop", action="store_true", help="POP3 greeting without a timestamp")
    p.add_argument("--reject-apop", action="store_true", help="answer APOP with -ERR")
    p.add_argument("--ehlo-reply", type=int, help="refuse EHLO with this code (500, 502)")
    p.add_argument("--auth", default="PLAIN,LOGIN", help="SMTP AUTH mechanisms advertised ('' for none)")
    p.add_argument("--pipelining", action="store_true",
                   help="advertise PIPELINING in the SMTP EHLO reply and the POP3 CAPA list")
    p.add_argument("--capa", metavar="LIST", help=f"the POP3 CAPA list, comma-separated (default {','.join(DEFAULT_CAPA)})")
    p.add_argument("--quiet", action="store_true", help="no line per session")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    return p.parse_args(argv)


def _users(specs: list[str]) -> dict[str, str]:
    users = {}
    for spec in specs:
        name, sep, pw = spec.partition(":")
        if not sep or not name:
            raise SystemExit(f"--user wants NAME:PASSWORD, got {spec!r}")
        users[name] = pw
    return users


def _maildrops(users: dict[str, str], maildir: Path | None) -> dict[str, Maildrop]:
    """Each user's messages: ``maildir/<user>`` (or ``<user>.mbox``) when there is one, else ``maildir``."""
    drops = {}
    for name, pw in users.items():
        if maildir is None:
            drops[name] = Maildrop(password=pw)
            continue
        own = next((p for p in (maildir / name, maildir / f"{name}.mbox") if p.exists()), maildir)
        drops[name] = Maildrop.load(pw, own)
        print(f"pop3: {name}: {len(drops[name].messages)} messages ({mail_format(own)} {own})"
              + ("  -- empty: is this the right path?" if not drops[name].messages else ""), flush=True)
    return drops


def session_line(session: Session) -> str:
    """One line per ended session: who, what it sent, how it ended."""
    took = f"{(session.ended - session.started) * 1000:.0f} ms" if session.ended else "open"
    auth = ""
    if session.auth_method:
        auth = f" auth {session.auth_method}:{session.auth_user or '?'} {'ok' if session.auth_ok else 'refused'}"
    result = []
    if session.messages:
        result.append(f"{len(session.messages)} message(s) stored ({sum(len(m.data) for m in session.messages)} "
                      "octets)")
    if session.retrieved:
        result.append(f"retrieved {','.join(map(str, session.retrieved))}")
    if session.deleted:
        result.append(f"deleted {','.join(map(str, session.deleted))}")
    if session.faults:
        result.append(f"faults: {'; '.join(session.faults)}")
    result.append(f"closed by {session.closed_by or 'nobody'}")
    commands = " ".join(session.commands) or "(no commands)"
    return (f"{time.strftime('%H:%M:%S')} {session.protocol} #{session.id} {session.peer}{auth}: {commands} -> "
            f"{', '.join(result)} [{took}]")


class _Printer:
    def __init__(self, writer: _Writer | None, quiet: bool) -> None:
        self.writer, self.quiet = writer, quiet

    def __call__(self, session: Session) -> None:
        if self.writer is not None:
            self.writer(session)
        if not self.quiet:
            print(session_line(session), flush=True)


class _Writer:
    """Appends each ended session to the transcript directory."""

    def __init__(self, directory: Path, server: str) -> None:
        self.directory, self.server = directory, server
        self.lock = threading.Lock()
        self.count = 0

    def __call__(self, session: Session) -> None:
        with self.lock:
            t = Transcript(self.server, [session])
            part = self.directory / f".{self.server}-part"
            t.write(part)
            with (self.directory / f"{self.server}-transcript.txt").open("a", encoding="utf-8") as f:
                f.write(part.read_text(encoding="utf-8"))
            part.unlink()
            for msg in session.messages:
                self.count += 1
                (self.directory / f"{self.server}-message-{self.count}.eml").write_bytes(msg.data)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    users = _users(args.user)
    if not users:
        print("no --user given: using bench:bench", file=sys.stderr)
        users = {"bench": "bench"}
    plan = FaultPlan.load(args.fault_plan) if args.fault_plan else None
    try:
        drops = _maildrops(users, args.maildir) if args.pop3_port >= 0 else {}
    except (FileNotFoundError, mailbox.Error, OSError) as exc:
        print(f"bench serve: --maildir {exc}", file=sys.stderr)
        return 2
    tdir = args.transcript_dir
    if tdir:
        tdir.mkdir(parents=True, exist_ok=True)
    common = {"bind": args.bind, "faults": plan}
    stop = threading.Event()
    servers: list[Pop3Emulator | SmtpEmulator] = []
    with contextlib.ExitStack() as stack:
        if args.pop3_port >= 0:
            capa = [c for c in args.capa.split(",") if c] if args.capa is not None else list(DEFAULT_CAPA)
            if args.pipelining and "PIPELINING" not in capa:
                capa.append("PIPELINING")
            servers.append(stack.enter_context(Pop3Emulator(
                maildrops=drops, port=args.pop3_port, apop=not args.no_apop, reject_apop=args.reject_apop,
                capabilities=capa, on_session_end=_Printer(_Writer(tdir, "pop3") if tdir else None, args.quiet),
                **common)))
        if args.smtp_port >= 0:
            mechs = [m for m in args.auth.upper().split(",") if m]
            extensions = ["8BITMIME", *(["PIPELINING"] if args.pipelining else [])]
            servers.append(stack.enter_context(SmtpEmulator(
                users=users, port=args.smtp_port, auth_mechanisms=mechs, ehlo_reply=args.ehlo_reply,
                extensions=extensions,
                on_session_end=_Printer(_Writer(tdir, "smtp") if tdir else None, args.quiet), **common)))
        for srv in servers:
            where = ", ".join(f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for a, p in srv.addresses)
            print(f"{srv.protocol} listening on {where}", flush=True)
        print(f"users: {', '.join(users)}; Ctrl-C stops", flush=True)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait(args.duration)
        except KeyboardInterrupt:
            pass
    for srv in servers:
        if tdir:
            srv.transcript.write_json(tdir / f"{srv.protocol}-transcript.json")
        print(f"{srv.protocol}: {len(srv.sessions)} sessions", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
