"""The bench command: build firmware, run the acceptance suite, serve the
emulators by hand, render reports."""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import textwrap
import sys
from pathlib import Path

from bench.config import ConfigError, load_target, project_root
from bench.report.store import allocate_run_dir

EXIT_CODES = """exit codes:
  0        accepted: every test passed
  1        rejected: the firmware failed criteria
  2        usage or configuration error (bad option, bad target file, unusable run dir)
  3        bench or board error: the board never booted, probe missing, capture or disk impossible
  130/143  interrupted by SIGINT / SIGTERM (129: SIGHUP); finished tests are kept, the report written"""


def _build(args: argparse.Namespace) -> int:
    cfg = load_target(args.target)
    if cfg.board.driver != "qemu":
        print(f"target {cfg.name} uses its team's own firmware; nothing to build here", file=sys.stderr)
        return 2
    return subprocess.call(["make", "-C", str(project_root() / "targets" / "firmware"), f"BOARD={cfg.board.machine}", "install"])


def plain(text: str | None) -> str:
    """Help text without reStructuredText markup: ``code`` spans become plain words."""
    return re.sub(r"``([^`]+)``", r"\1", text or "")


def _is_test_path(arg: str) -> bool:
    """A pytest argument that names tests (``path``, ``path::test``) rather than an option or its value."""
    return not arg.startswith("-") and (Path(arg.split("::", 1)[0]).exists() or "::" in arg or arg.endswith(".py"))


def _run(args: argparse.Namespace) -> int:
    """The acceptance suite on one target, in this process (pytest and this package's
    plugin): signals reach the bench directly, and no pytest child can outlive it."""
    import pytest

    from bench.capture.tap import sweep_stale

    cfg = load_target(args.target)
    try:
        if args.run_dir:
            run_dir = Path(args.run_dir).resolve()
            run_dir.mkdir(parents=True, exist_ok=True)
            probe = run_dir / f".bench-probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        else:
            run_dir = allocate_run_dir(project_root() / "captures", cfg.name)
    except OSError as exc:
        print(f"bench: cannot write the run directory {args.run_dir or project_root() / 'captures'}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    for gone in sweep_stale():
        print(f"bench: removed {gone}, left by a bench that is gone", file=sys.stderr)
    if getattr(args, "external", None):  # the run's own target file: the target's plus these servers as [external]
        from bench.config.external import with_external

        try:
            args.target = str(with_external(args.target, args.external, run_dir / "target-external.toml"))
        except ConfigError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    suite = [] if any(_is_test_path(a) for a in args.pytest_args) else [str(project_root() / "tests" / "acceptance")]
    argv = [
        *suite, "--target", args.target, "-q",
        "--run-dir", str(run_dir), "--bench-junit", args.junit or str(run_dir / "junit.xml"),
        "-W", "ignore::pytest.PytestAssertRewriteWarning",  # the bench is imported before pytest starts
    ]  # fmt: skip
    if args.image:
        argv += ["--image", args.image]
    if args.boards > 1:  # one pytest-xdist worker per board (bench.pytest_workers)
        argv += ["-n", str(args.boards), "--dist", "worksteal"]
    if args.pool:
        argv += ["--pool", args.pool]
    for cid in args.criterion:
        argv += ["--criterion", cid]
    argv += args.pytest_args
    from bench import pytest_plugin, signals

    pytest_plugin.final_exit_code = None
    rc = int(pytest.main(argv))
    if pytest_plugin.final_exit_code is not None:  # the run got as far as its record: the bench's own code
        return pytest_plugin.final_exit_code
    if rc == pytest.ExitCode.INTERRUPTED:  # before the run started (collection, first test's setup)
        sig = signals.received() or signal.SIGINT  # the handlers go in with the record: Python's SIGINT before
        print(f"bench: interrupted by {signals.name(sig)} before any test ran (exit {128 + sig})", file=sys.stderr)
        return 128 + sig
    return {int(pytest.ExitCode.USAGE_ERROR): 2, int(pytest.ExitCode.NO_TESTS_COLLECTED): 2}.get(rc, rc)


def _targets(args: argparse.Namespace) -> int:
    """Every target file under targets/: name, board, description."""
    rows = []
    for path in sorted((project_root() / "targets").glob("*.toml")):
        try:
            cfg = load_target(path)
        except ConfigError as exc:
            rows.append((path.stem, "invalid", str(exc)))
            continue
        board = f"{cfg.board.driver} {getattr(cfg.board, 'machine', '') or ''}".strip()
        rows.append((cfg.name, board, cfg.description))
    rows.sort()
    width = max((len(r[0]) for r in rows), default=0)
    bwidth = max((len(r[1]) for r in rows), default=0)
    for name, board, desc in rows:
        print(f"{name:{width}}  {board:{bwidth}}  {desc}")
    return 0


def _own_args(rest: list[str]) -> list[str]:
    return rest[1:] if rest[:1] == ["--"] else rest


def _serve(args: argparse.Namespace) -> int:
    from bench.servers import serve

    try:
        return serve.main(_own_args(args.serve_args))
    except OSError as exc:  # a port already taken, an address not on this host
        print(f"bench serve: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _selftest(args: argparse.Namespace) -> int:
    from bench import selftest

    return selftest.main(_own_args(args.selftest_args))


def _judge(args: argparse.Namespace) -> int:
    from bench import judge

    return judge.main(_own_args(args.judge_args))


def _report(args: argparse.Namespace) -> int:
    import json

    from bench.report.html import write_html_report
    from bench.report.store import missing_line

    run_dir = Path(args.run_dir)
    verdicts = run_dir / "verdicts.json"
    if not run_dir.is_dir():
        print(f"bench: no run directory {run_dir}", file=sys.stderr)
        return 2
    if not verdicts.is_file():
        what = ("a selftest directory (its summary is selftest.json; each mutant's run is a folder in it)"
                if (run_dir / "selftest.json").is_file() else "not a run directory (no verdicts.json)")
        print(f"bench: {run_dir} is {what}", file=sys.stderr)
        return 2
    try:
        missing = missing_line(json.loads(verdicts.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        print(f"bench: {verdicts} is unreadable: {exc}", file=sys.stderr)
        return 2
    try:
        path = write_html_report(run_dir)
    except OSError as exc:
        print(f"bench: cannot write the report in {run_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    if missing:
        print(f"bench: {missing}", file=sys.stderr)
    print(path)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Exit 0 when the host has everything the target needs, 3 (bench error) when not."""
    from bench import doctor

    findings = doctor.diagnose(load_target(args.target), Path(args.image) if args.image else None)
    for line in doctor.render(findings):
        print(line)
    return 0 if doctor.ready(findings) else 3


def _doctor(args: argparse.Namespace) -> int:
    """Exit 0 when the host has everything the target needs, 3 (bench error) when not."""
    from bench import doctor

    findings = doctor.diagnose(load_target(args.target), Path(args.image) if args.image else None)
    for line in doctor.render(findings):
        print(line)
    return 0 if doctor.ready(findings) else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=plain(__doc__),
                                     epilog="'bench COMMAND --help' describes each command.\n\n" + EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    target_help = "a target name under targets/ (list them with 'bench targets') or a target file (default mps2-an385)"

    p = sub.add_parser("build", help="build the reference firmware for a target",
                       description="Build the reference firmware for an emulated target into firmware_images/ "
                                   "(with its manifest.json entry). Real-board targets bring their own image.")
    p.add_argument("--target", default="mps2-an385", help=target_help)
    p.set_defaults(fn=_build)

    p = sub.add_parser("run", help="run the acceptance suite on a target",
                       description=textwrap.fill(
                           "Flash and boot the target once, run the acceptance suite (tests/acceptance) on it and "
                           "leave captures/<run-id>/ with verdicts.json, report.html, junit.xml and per test its "
                           "capture, UART log and server transcripts. The report's path is printed last.", 78),
                       epilog="examples:\n"
                              "  bench run --target mps2-an500\n"
                              "  bench run --image build/my-fw.elf --criterion SMTP-MAIL-2\n"
                              "  bench run -- -m 'SMTP-AUTH-1 or SMTP-AUTH-2'     # criteria are markers too\n"
                              "  bench run -- tests/acceptance/test_pop3.py::test_bad_password   # replaces the suite\n"
                              "  bench run -- --lf                                 # only what failed last time\n\n"
                              + EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="mps2-an385", help=target_help)
    p.add_argument("--image", help="firmware image to flash instead of the target file's")
    p.add_argument("--run-dir", help="artifact directory (default captures/<run-id>)")
    p.add_argument("--junit", help="JUnit XML path (default <run-dir>/junit.xml)")
    p.add_argument("--boards", type=int, default=1, metavar="N",
                   help="run the suite across N boards of the target, one worker each (emulated: N QEMUs)")
    p.add_argument("--pool", metavar="FILE",
                   help="board pool file (id, target, probe, console, NIC): workers claim free boards from it")
    p.add_argument("--criterion", action="append", default=[], metavar="ID",
                   help="run only the tests that judge this catalogue criterion (repeatable; "
                        "an ID not in docs/REQUIREMENTS.md is an error)")
    p.add_argument("--external", action="append", default=[], metavar="URL",
                   help="a real server instead of the emulator, as the target's [external] section: "
                        "pop3://user:pw@host:port?apop=1 or smtp://user:pw@host:port?auth=login&from=A&rcpt=B")
    p.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARG",
                   help="pytest arguments, after '--'; a test path among them replaces the suite")
    p.set_defaults(fn=_run)

    p = sub.add_parser("targets", help="list the target files", description="List the targets under targets/: "
                       "the name to give --target, the board driver and machine, the description.")
    p.set_defaults(fn=_targets)

    p = sub.add_parser("serve", help="run the POP3/SMTP emulators standalone (bench serve --help)", add_help=False)
    p.add_argument("serve_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=_serve)

    p = sub.add_parser("selftest", help="mutation self-test: every mutant firmware must be rejected "
                       "(bench selftest --help)", add_help=False)
    p.add_argument("selftest_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=_selftest)

    p = sub.add_parser("judge", help="judge a capture the bench did not make against the wire criteria",
                       description="Judge a pcap or pcapng against the wire criteria, with limits from a "
                                   "target file or the command line; writes verdicts.json, junit.xml and "
                                   "report.html as a run does. Exit 0 passed, 1 failed, 2 usage, 3 unreadable "
                                   "capture. Options: bench judge --help.", add_help=False)
    p.add_argument("judge_args", nargs=argparse.REMAINDER, metavar="ARG",
                   help="the capture file and the judge options (bench judge --help lists them)")
    p.set_defaults(fn=_judge)

    p = sub.add_parser("doctor", help="check that this host has what a target needs (exit 3 if not)",
                       description="One table: the emulator or probe tools, the debug probe by uid, the GDB "
                                   "server, the serial port, the NIC and its offloads, capture and tap "
                                   "privileges, the image and its sha256. Exit 0 when ready, 3 when a needed "
                                   "item is missing.")
    p.add_argument("target", nargs="?", default="mps2-an385", help="target name under targets/ or a target file")
    p.add_argument("--image", help="firmware image to check instead of the target file's")
    p.set_defaults(fn=_doctor)

    p = sub.add_parser("report", help="render the HTML report of a run directory",
                       description="(Re)render RUN_DIR/report.html from RUN_DIR/verdicts.json and the artifacts "
                                   "beside it; prints its path.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (captures/<run-id>)")
    p.set_defaults(fn=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("serve", "selftest", "judge"):  # they own their options
        argv = [argv[0], "--", *argv[1:]]
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"bench: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before or after the suite ran
        code = 128 + getattr(exc, "signum", 2)
        print(f"bench: interrupted (exit {code})", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
