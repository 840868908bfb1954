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

Python swallows an exception raised in a finalizer (``__del__``, a weakref or gc
callback) as "unraisable": a first signal that lands there would be lost and the
run would go on to its end. The bench's ``sys.unraisablehook`` takes such an
``Interrupted`` out (no traceback is printed) and has the same signal delivered
again a moment later, which raises where the main thread is then, and does not
count as a second signal. The pytest plugin also stops the session
at the next test boundary while a first signal is ``unhandled`` (see there).

``MAILBENCH_TEST_SIGNAL_AT`` (tests only) sends SIGINT to this process at a named
point of the run (``at``), from inside a ``__del__`` there when ``MAILBENCH_TEST_SIGNAL_IN``
is ``finalizer``, or as the main thread next enters a function NAME when it is ``call:NAME``,
so that each window can be tested deterministically.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []
_closing = False
_installed: dict[int, Any] = {}
_emergency: list[Callable[[], None]] = []
_forward: list[Callable[[int], bool]] = []
_forwarded = False  # the first signal was taken by a forward (the workers stop, not this process)
_redelivery: list[int] = []  # a lost first signal, sent again: the next one is it, not a second signal
_prev_unraisable: list[Any] = []  # sys.unraisablehook before install()
REDELIVER_AFTER = 0.05  # seconds: the finalizer that swallowed the first raise is over by then
TEST_POINT_ENV = "MAILBENCH_TEST_SIGNAL_AT"
TEST_WHERE_ENV = "MAILBENCH_TEST_SIGNAL_IN"
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


def unhandled() -> int | None:
    """A first signal that this process should have stopped for but still runs past (it was
    raised where Python swallowed it, or caught by code that should not have), or None."""
    sig = received()
    return None if sig is None or _closing or _forwarded else sig


def _handler(signum: int, _frame: Any) -> None:
    if _redelivery:  # our own repeat of a first signal that was lost (or a real one meanwhile: same effect)
        _redelivery.clear()
        if not _closing:
            raise Interrupted(_received[0])
        return
    _received.append(signum)
    if len(_received) == 1:
        global _forwarded
        if _closing:
            return
        if any(fn(signum) for fn in _forward):
            _forwarded = True
            return
        raise Interrupted(signum)
    os.write(_STDERR, f"\nbench: second signal ({name(signum)}): stopping now, removing taps\n".encode())
    for fn in list(_emergency):
        try:
            fn()
        except BaseException:  # noqa: BLE001 - exiting anyway
            pass
    os._exit(128 + _received[0])


def _unraisable(args: Any) -> None:
    """sys.unraisablehook: an ``Interrupted`` that Python swallowed (raised in a finalizer) is
    delivered again shortly, from a timer thread, to the main thread; anything else is reported as before."""
    if isinstance(args.exc_value, Interrupted) and not _closing:
        _redelivery[:] = [args.exc_value.signum]
        timer = threading.Timer(REDELIVER_AFTER, signal.pthread_kill,
                                (threading.main_thread().ident, args.exc_value.signum))
        timer.daemon = True
        timer.start()
        return
    if isinstance(args.exc_value, Interrupted):
        return  # closing: the run ends as interrupted anyway; no traceback for it
    (_prev_unraisable[0] if _prev_unraisable else sys.__unraisablehook__)(args)


def install() -> bool:
    """Install the handlers (main thread only); False where that is impossible."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in SIGNALS:
        if sig not in _installed:
            _installed[sig] = signal.signal(sig, _handler)
    if sys.unraisablehook is not _unraisable:  # outermost: pytest's own hook would keep and print it
        _prev_unraisable[:] = [sys.unraisablehook]
        sys.unraisablehook = _unraisable
    return True


def uninstall() -> None:
    for sig, old in list(_installed.items()):
        signal.signal(sig, old)
        del _installed[sig]
    if sys.unraisablehook is _unraisable:
        sys.unraisablehook = _prev_unraisable[0] if _prev_unraisable else sys.__unraisablehook__
    _prev_unraisable.clear()


def at(point: str) -> None:
    """Test-only: SIGINT to this process when ``MAILBENCH_TEST_SIGNAL_AT`` names ``point`` (once)."""
    if os.environ.get(TEST_POINT_ENV) != point:
        return
    os.environ.pop(TEST_POINT_ENV)
    where = os.environ.get(TEST_WHERE_ENV, "")
    if where == "finalizer":
        _SignalInDel()  # dropped at once: its __del__ runs here
    elif where.startswith("call:"):  # later: as the main thread enters the first function of that name
        _signal_at_call(where.removeprefix("call:"))
    else:
        os.kill(os.getpid(), signal.SIGINT)


def _signal_at_call(name: str) -> None:
    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == name:
            sys.setprofile(None)
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs in that function (a coroutine: in its task)

    sys.setprofile(profile)


class _SignalInDel:
    """Test-only: the handler runs inside this ``__del__``, where Python swallows what it raises."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs at one of these bytecodes
            pass


def reset() -> None:
    """Forget earlier signals (a new run in the same process)."""
    global _closing, _forwarded
    _received.clear()
    _forward.clear()
    _redelivery.clear()
    _closing = _forwarded = False


def begin_closing() -> None:
    """From here on a first signal does not interrupt: the bench is writing and cleaning up."""
    global _closing
    _closing = True
