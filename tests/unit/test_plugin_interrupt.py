"""A first signal must end the run as an interrupt wherever it lands.

On an instruction without a line number:
CPython 3.11 can leave a traceback entry whose ``tb_lineno`` is None (seen when SIGINT lands in
ElementTree.indent while junit.xml is written); pytest's terminal reporter cannot render it and
the run ended as an internal error (exit 1). The plugin drops such entries before it renders.
In a finalizer (``__del__``, a weakref or gc callback), where Python swallows what the handler
raises: the run went on through every test and printed a Traceback. bench.signals raises it again."""
from __future__ import annotations

import gc
import os
import signal
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest._code.code import Traceback, TracebackEntry

from bench import signals
from bench.pytest_plugin import pytest_keyboard_interrupt


def _interrupt_with_a_lineless_entry() -> pytest.ExceptionInfo[BaseException]:
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        excinfo = pytest.ExceptionInfo.from_current()
    lineless = SimpleNamespace(tb_frame=sys._getframe(), tb_lineno=None, tb_next=None, tb_lasti=-1)
    excinfo.traceback = Traceback([*excinfo.traceback, TracebackEntry(lineless)])  # type: ignore[arg-type]
    return excinfo


def test_pytest_cannot_render_a_lineless_entry() -> None:
    """The failure the plugin guards against (if pytest learns to render it, the guard can go)."""
    with pytest.raises(TypeError):
        _interrupt_with_a_lineless_entry().getrepr(funcargs=True)


def test_the_plugin_drops_lineless_entries_before_pytest_renders_them() -> None:
    excinfo = _interrupt_with_a_lineless_entry()
    pytest_keyboard_interrupt(excinfo)
    assert all(e._rawentry.tb_lineno is not None for e in excinfo.traceback)
    assert "KeyboardInterrupt" in str(excinfo.getrepr(funcargs=True))


# -- a first signal that Python swallows (raised in a finalizer) is raised again, not lost --------

class _SignalInDel:
    def __del__(self) -> None:
        _signal_and_spin()


def _signal_and_spin() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000):  # the handler runs (and raises) at one of these bytecodes, inside the finalizer
        pass


def _in_del() -> None:
    _SignalInDel()


def _in_weakref_callback() -> None:
    class Target:
        pass

    t = Target()
    ref = weakref.ref(t, lambda _r: _signal_and_spin())
    del t
    assert ref() is None


def _in_gc_callback() -> None:
    def callback(phase: str, _info: dict[str, int]) -> None:
        if phase == "stop":
            gc.callbacks.remove(callback)
            _signal_and_spin()

    gc.callbacks.append(callback)
    gc.collect()


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The bench's handlers, over an unraisable hook that records what reaches it (pytest's, else)."""
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    signals.reset()
    assert signals.install()
    try:
        yield reported
    finally:
        signals.uninstall()
        signals.reset()


@pytest.mark.parametrize("finalizer", [_in_del, _in_weakref_callback, _in_gc_callback], ids=lambda f: f.__name__)
def test_a_first_signal_swallowed_in_a_finalizer_is_raised_again_soon(
        handlers: list[Any], finalizer: Callable[[], None]) -> None:
    t0 = time.monotonic()
    with pytest.raises(signals.Interrupted) as raised:
        finalizer()  # the handler's raise is swallowed here (Python calls it unraisable) ...
        while time.monotonic() - t0 < 5:  # ... and comes again a moment later, out here
            pass
    assert time.monotonic() - t0 < 2
    assert raised.value.signum == signal.SIGINT and signals.received() == signal.SIGINT
    assert handlers == [], "the swallowed interrupt was reported (a Traceback in pytest's warnings summary)"
    assert signals.unhandled() == signal.SIGINT  # not a second signal: the next one is (emergency exit)


def test_other_unraisable_exceptions_still_reach_the_previous_hook(handlers: list[Any]) -> None:
    class Broken:
        def __del__(self) -> None:
            raise ValueError("in __del__")

    Broken()
    assert [type(a.exc_value) for a in handlers] == [ValueError]


def test_while_closing_a_swallowed_first_signal_is_not_raised_again(handlers: list[Any]) -> None:
    signals.begin_closing()
    _in_del()
    time.sleep(3 * signals.REDELIVER_AFTER)  # nothing raised: the bench is already ending
    assert signals.received() == signal.SIGINT and signals.unhandled() is None and handlers == []
