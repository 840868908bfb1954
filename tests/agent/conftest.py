"""A real pty between the bench's AgentClient (through pyserial) and a scripted device."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import serial

from bench.agent.client import AgentClient
from bench.agent.uartlog import UartLog


@pytest.fixture
def pty_client() -> Iterator[tuple[int, AgentClient]]:
    """(the device's end of a pty, an AgentClient on the bench's end through pyserial)."""
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), 115200, timeout=0)  # sets the line raw
    try:
        yield master, AgentClient(port, UartLog())
    finally:
        port.close()
        os.close(slave)
        os.close(master)

