"""What a device declares (caps by verb name, timeout-arg, its client timeouts) and
what the bench does with it, over a real pyserial link to a scripted device."""
from __future__ import annotations

import socket

import pytest
from test_agent_client import read_request, scripted  # noqa: F401 - the fixture

from bench.agent.device import Device, DeviceInfo, DeviceTimeouts, parse_caps

LIMITS = "mtu=1500 mss=1460 mss6=1440 pop3_payload=120 smtp_payload=1024 tcp_wnd=5840 body_max=1024"
#: a NetX Duo-like device: no NOOP/RSET, compile-time timeouts, the old tcp-bulk spelling
NETX = f"proto=1 fw=netx/6.4 board=b caps=pop3%2Csmtp%2Cpop3.dele%2Ctcp-bulk {LIMITS} reply_ms=10000 msg_ms=30000 ip=10.0.2.15"
REF = f"proto=1 fw=ref/1 board=b caps=pop3%2Csmtp%2Ctimeout-arg%2Cpop3.noop {LIMITS} connect_ms=5000 reply_ms=10000 msg_ms=10000 ip=10.0.2.15"


def fields(line: str) -> dict[str, str]:
    return {k: v.replace("%2C", ",") for k, v in (kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)}


def test_caps_name_optional_verbs_and_required_verbs_need_no_declaration() -> None:
    info = DeviceInfo.from_fields(fields(NETX))
    assert info.caps == {"pop3", "smtp", "pop3.dele", "tcp.bulk"}  # tcp-bulk read as tcp.bulk
    assert info.has_verb("pop3.stat") and info.has_verb("smtp.send")  # required: never listed
    assert info.has_verb("pop3.dele") and info.has_verb("tcp.bulk")
    assert not info.has_verb("pop3.noop") and not info.has_verb("pop3.rset") and not info.has_verb("net.config")
    assert not info.timeout_arg
    assert parse_caps("") == frozenset()


def test_declared_timeouts_with_protocol_defaults_for_missing_keys() -> None:
    netx = DeviceInfo.from_fields(fields(NETX))
    assert netx.timeouts == DeviceTimeouts(connect_ms=10_000, reply_ms=10_000, msg_ms=30_000)
    ref = DeviceInfo.from_fields(fields(REF))
    assert ref.timeouts == DeviceTimeouts(5_000, 10_000, 10_000)
    # no timeout-arg: the device waits as declared whatever the workload asks
    assert netx.wait_ms("reply_ms", 1500) == 10_000 and netx.wait_ms("msg_ms", 1500) == 30_000
    assert netx.request_deadline_s("smtp.send", 1500) == 40.5  # 30 s, +25 % clock slack, +3 s
    assert netx.request_deadline_s("pop3.stat") == 15.5
    # timeout-arg: the request's timeout_ms is every wait
    assert ref.wait_ms("msg_ms", 1500) == 1500 and ref.request_deadline_s("smtp.send", 1500) == 4.875
    assert ref.request_deadline_s("pop3.open") == 15.5  # nothing asked: the declared 10 s
    # how long the runner waits for a session to end: the device's longest wait
    assert netx.longest_wait_ms(1500) == 30_000 and ref.longest_wait_ms(1500) == 1500


@pytest.mark.parametrize(("banner", "sent"), [(REF, b"timeout_ms=1500"), (NETX, None)])
def test_timeout_ms_is_sent_only_to_a_device_that_honours_it(scripted, banner: str, sent: bytes | None) -> None:  # noqa: F811
    seen: list[list[bytes]] = []

    def device(conn: socket.socket) -> None:
        tag, *_ = read_request(conn)
        conn.sendall(tag + b" ok " + banner.encode() + b"\n")
        request = read_request(conn)
        seen.append(request)
        conn.sendall(request[0] + b" err code=timeout stage=greeting\n")
        conn.recv(1)

    dev = Device(scripted(device))
    dev.hello()
    result = dev.op("pop3.open", host="10.0.2.2", port=110, user="u", timeout_ms=1500)
    assert result.code == "timeout"
    args = seen[0][2:]
    assert (sent in args) if sent else not any(a.startswith(b"timeout_ms=") for a in args)
    assert ("timeout_ms" in result.args) is bool(sent)
