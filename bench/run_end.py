"""How a run ends: what counts as the bench's (not the firmware's) failure, the
last writes when the disk is full, and the exit code.

Exit codes: 0 accepted, 1 rejected (criteria failed), 2 usage or configuration,
3 bench or board error, 128 + N interrupted by signal N (130 SIGINT, 143 SIGTERM).
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bench.report.store import STATUS_BENCH_ERROR, RunRecord

DISK_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EIO)
RESERVE_NAME = ".bench-reserve"
RESERVE_BYTES = 512 << 10  # a 45-test verdicts.json is ~230 KB, its junit.xml ~45 KB


def bench_error_of(exc: BaseException) -> tuple[str, str] | None:
    """(kind, one line) when a test failed for the bench's reason, not the firmware's."""
    from bench.capture.sources import CaptureError
    from bench.capture.tap import TapError
    from bench.target.protocols import TargetError

    if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
        return "disk", f"cannot write {exc.filename or 'the run directory'}: {exc.strerror}"
    for kind, types in (("capture", (CaptureError,)), ("tap", (TapError,)), ("target", (TargetError,))):
        if isinstance(exc, types):
            return kind, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def keep_room(run_dir: Path) -> None:
    """Room for the last verdicts.json and junit.xml when the disk fills (given up when needed, or at the end)."""
    try:
        with open(run_dir / RESERVE_NAME, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, RESERVE_BYTES)
    except OSError:
        (run_dir / RESERVE_NAME).unlink(missing_ok=True)  # not even that much room: go on without


def release_room(run_dir: Path) -> None:
    (run_dir / RESERVE_NAME).unlink(missing_ok=True)


def persist(record: RunRecord, junit: Path | None) -> str | None:
    """Write verdicts.json (and junit.xml), each atomically; None, or the one line saying why not
    (recorded as the run's bench error: the run must end)."""
    from bench.report.junit import write_junit

    def write() -> None:
        record.write()
        if junit is not None:
            write_junit(record, junit)

    try:
        try:
            write()
        except OSError as exc:
            reserve = record.directory / RESERVE_NAME
            if exc.errno != errno.ENOSPC or not reserve.exists():
                raise
            reserve.unlink()  # the disk is full: the room kept at the start takes these verdicts
            if record.bench_error is None:
                record.bench_error = {"kind": "disk", "message": _says(exc, record), "test": ""}
            record.status = STATUS_BENCH_ERROR  # this may be the last write that fits
            write()
            raise
    except OSError as exc:
        message = _says(exc, record)
        if record.bench_error is None:
            record.bench_error = {"kind": "disk", "message": message, "test": ""}
        return message
    return None


def _says(exc: OSError, record: RunRecord) -> str:
    return f"cannot write {exc.filename or record.directory}: {exc.strerror or exc}"


def exit_code(record: RunRecord, exitstatus: int, signum: int | None) -> int:
    if signum is not None:
        return 128 + signum
    if record.bench_error is not None:
        return 2 if record.bench_error.get("kind") == "run-dir" else 3
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return 130
    if exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return 2
    if any(t.outcome in ("failed", "error") for t in record.tests):
        return 1
    return 0 if exitstatus == pytest.ExitCode.OK else 3
