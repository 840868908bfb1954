"""Can the device still use the network? Its resources against what one session needs.

A device whose packet-buffer pool ran dry or that has no free TCP control block
still answers over UART, but every session it starts times out. The runner stops
a workload there, and the session reboots such a device before the next one, so
one leaky test does not turn the rest of a run into a row of timeouts.
"""
from __future__ import annotations

from math import ceil

from bench.agent.device import DeviceInfo, MemoryStatus


def session_needs(info: DeviceInfo | None) -> tuple[int, int, int]:
    """(pool buffers, heap octets, PCBs) one TCP session needs: the frames of one full
    receive window, one send window of copies, one control block."""
    if info is None:
        return 1, 1, 1
    lim = info.limits
    return max(1, ceil(lim.tcp_wnd / max(lim.mtu, 1))), lim.tcp_wnd, 1


def exhaustion(mem: MemoryStatus, info: DeviceInfo | None) -> str:
    """Why the device can no longer run a session ("" when it can)."""
    pool, heap, pcbs = session_needs(info)
    short = []
    if mem.pool_free < pool:
        short.append(f"packet-buffer pool ran dry (pool_free={mem.pool_free} of {mem.pool_total}, a session needs {pool})")
    if mem.pcb_free < pcbs:
        short.append(f"no free TCP control block (pcb_free={mem.pcb_free} of {mem.pcb_total})")
    if mem.heap_free < heap:
        short.append(f"heap nearly exhausted (heap_free={mem.heap_free}, a session needs {heap})")
    return "; ".join(short)


def recovered(before: MemoryStatus, now: MemoryStatus) -> bool:
    """Free pool buffers, heap and PCBs all back to at least the figures before."""
    return now.pool_free >= before.pool_free and now.heap_free >= before.heap_free and now.pcb_free >= before.pcb_free
