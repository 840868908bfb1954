"""A signal on an instruction without a line number must still end the run as an interrupt.

CPython 3.11 can leave a traceback entry whose ``tb_lineno`` is None (seen when SIGINT lands in
ElementTree.indent while junit.xml is written); pytest's terminal reporter cannot render it and
the run ended as an internal error (exit 1). The plugin drops such entries before it renders."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from _pytest._code.code import Traceback, TracebackEntry

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
