"""SIGINT, SIGTERM and SIGHUP during a run: stop the running test, keep the rest.

The first signal raises ``Interrupted`` (a ``KeyboardInterrupt``, so pytest
stops the session, tears its fixtures down and runs its finish hooks: the
verdicts, JUnit and report are written, taps removed, QEMU stopped). While the
bench is already closing (``closing()``), the first signal only is noted, so
cleanup is not cut short. A second signal runs the emergency cleanups (taps,
QEMU) and exits at once with 128 + the signal number.

A process whose tests run elsewhere (the controller of ``bench run --boards N``)
passes the first signal on instead (``forward_to``): the workers stop their
tests and report them, and the run ends when they have; only when no worker is
left to take it does the first signal interrupt the controller itself.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []
_closing = False
_installed: dict[int, Any] = {}
_emergency: list[Callable[[], None]] = []
_forward: list[Callable[[int], bool]] = []
#: the real stderr, taken before pytest captures fd 2 (the pytest plugin imports this module early):
#: the second signal's line must reach the terminal, not a capture file that os._exit abandons
_STDERR = os.dup(2)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


def received() -> int | None:
    """The first signal received, or None."""
    return _received[0] if _received else None


def exit_code() -> int | None:
    sig = received()
    return None if sig is None else 128 + sig


def name(signum: int) -> str:
    return signal.Signals(signum).name


def on_emergency(fn: Callable[[], None]) -> None:
    """Run ``fn`` if a second signal cuts the cleanup short (it must be quick and never raise)."""
    if fn not in _emergency:
        _emergency.append(fn)


def forget_emergency(fn: Callable[[], None]) -> None:
    with contextlib.suppress(ValueError):
        _emergency.remove(fn)


def forward_to(fn: Callable[[int], bool] | None) -> None:
    """Give the first signal to ``fn`` (True: someone took it, do not interrupt here); None: no more."""
    _forward[:] = [fn] if fn is not None else []


def _handler(signum: int, _frame: Any) -> None:
    _received.append(signum)
    if len(_received) == 1:
        if _closing or any(fn(signum) for fn in _forward):
            return
        raise Interrupted(signum)
    os.write(_STDERR, f"\nbench: second signal ({name(signum)}): stopping now, removing taps\n".encode())
    for fn in list(_emergency):
        try:
            fn()
        except BaseException:  # noqa: BLE001 - exiting anyway
            pass
    os._exit(128 + _received[0])


def install() -> bool:
    """Install the handlers (main thread only); False where that is impossible."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in SIGNALS:
        if sig not in _installed:
            _installed[sig] = signal.signal(sig, _handler)
    return True


def uninstall() -> None:
    for sig, old in list(_installed.items()):
        signal.signal(sig, old)
        del _installed[sig]


def reset() -> None:
    """Forget earlier signals (a new run in the same process)."""
    global _closing
    _received.clear()
    _forward.clear()
    _closing = False


def begin_closing() -> None:
    """From here on a first signal does not interrupt: the bench is writing and cleaning up."""
    global _closing
    _closing = True
