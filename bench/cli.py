"""The ``bench`` command: build firmware, run the acceptance suite, serve the
emulators by hand, render reports."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.config import ConfigError, load_target, project_root
from bench.report.store import new_run_id


def _build(args: argparse.Namespace) -> int:
    cfg = load_target(args.target)
    if cfg.board.driver != "qemu":
        print(f"target {cfg.name} uses its team's own firmware; nothing to build here", file=sys.stderr)
        return 2
    return subprocess.call(["make", "-C", str(project_root() / "targets" / "firmware"), f"BOARD={cfg.board.machine}", "install"])


def _run(args: argparse.Namespace) -> int:
    """The acceptance suite on one target, through pytest and this package's plugin."""
    cfg = load_target(args.target)
    run_dir = Path(args.run_dir) if args.run_dir else project_root() / "captures" / new_run_id(cfg.name)
    argv = [
        sys.executable, "-m", "pytest", str(project_root() / "tests" / "acceptance"),
        "--target", args.target, "-p", "no:cacheprovider", "-q",
        "--run-dir", str(run_dir), "--junitxml", args.junit or str(run_dir / "junit.xml"),
    ]  # fmt: skip
    if args.image:
        argv += ["--image", args.image]
    argv += args.pytest_args
    return subprocess.call(argv)


def _own_args(rest: list[str]) -> list[str]:
    return rest[1:] if rest[:1] == ["--"] else rest


def _serve(args: argparse.Namespace) -> int:
    from bench.servers import serve

    return serve.main(_own_args(args.serve_args))


def _selftest(args: argparse.Namespace) -> int:
    from bench import selftest

    return selftest.main(_own_args(args.selftest_args))


def _report(args: argparse.Namespace) -> int:
    from bench.report.html import write_html_report

    path = write_html_report(Path(args.run_dir))
    print(path)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Exit 0 when the host has everything the target needs, 3 (bench error) when not."""
    from bench import doctor

    findings = doctor.diagnose(load_target(args.target), Path(args.image) if args.image else None)
    for line in doctor.render(findings):
        print(line)
    return 0 if doctor.ready(findings) else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the reference firmware for a target")
    p.add_argument("--target", default="mps2-an385")
    p.set_defaults(fn=_build)

    p = sub.add_parser("run", help="run the acceptance suite on a target")
    p.add_argument("--target", default="mps2-an385")
    p.add_argument("--image", help="firmware image to flash instead of the target file's")
    p.add_argument("--run-dir", help="artifact directory (default captures/<run-id>)")
    p.add_argument("--junit", help="JUnit XML path (default <run-dir>/junit.xml)")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    p.set_defaults(fn=_run)

    p = sub.add_parser("serve", help="run the POP3/SMTP emulators standalone", add_help=False)
    p.add_argument("serve_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=_serve)

    p = sub.add_parser("selftest", help="mutation self-test: every mutant firmware must be rejected", add_help=False)
    p.add_argument("selftest_args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=_selftest)

    p = sub.add_parser("doctor", help="check that this host has what a target needs (exit 3 if not)",
                       description="One table: the emulator or probe tools, the debug probe by uid, the GDB "
                                   "server, the serial port, the NIC and its offloads, capture and tap "
                                   "privileges, the image and its sha256. Exit 0 when ready, 3 when a needed "
                                   "item is missing.")
    p.add_argument("target", nargs="?", default="mps2-an385", help="target name under targets/ or a target file")
    p.add_argument("--image", help="firmware image to check instead of the target file's")
    p.set_defaults(fn=_doctor)

    p = sub.add_parser("report", help="render the HTML report of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(fn=_report)

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("serve", "selftest"):  # they own their options
        argv = [argv[0], "--", *argv[1:]]
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"bench: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
