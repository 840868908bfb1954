"""The banner's ip6 is the device's source address: a device connecting from another
one (a SLAAC address) gets one clear FAIL of POP-CONN-1 / SMTP-CONN-1 naming it,
and its connections are still judged by the wire criteria (not INCONCLUSIVE)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.agent.device import DeviceInfo, DeviceLimits, OpResult
from bench.capture.synth import Trace, pop3_session, smtp_session
from bench.checks.catalogue import judge_run
from bench.checks.verdict import Outcome, Verdict
from bench.servers.transcript import Transcript
from bench.workload.evidence import RunEvidence, StepResult
from bench.workload.model import Mail, Pop3Op, Pop3Open, Pop3ServerSpec, SendMail, SmtpServerSpec, Workload

DECLARED, SLAAC, SERVER = "fec0::15", "fec0::5054:ff:fe12:3456", "fec0::2"
INFO = DeviceInfo("netx/6.4", "b", frozenset({"pop3", "smtp", "ipv6"}),
                  DeviceLimits(1500, 1460, 1440, 120, 1024, 5840, 1 << 20), "10.0.2.15", DECLARED)
SMTP_PORT, POP3_PORT = 2525, 1110
WIRE = ("NET-WIRE-1", "NET-WIRE-2", "SMTP-WIRE-1")


def _op(verb: str, **fields: str) -> OpResult:
    return OpResult(verb, {}, True, fields, b"", time.time(), time.time())


def judged(tmp_path: Path, source: str, protocol: str, criteria: tuple[str, ...]) -> list[Verdict]:
    """Evidence as a run leaves it: the device's capture (built packet by packet), no transcript."""
    trace = Trace()
    if protocol == "smtp":
        smtp_session(trace, (source, 49153), (SERVER, SMTP_PORT))
        step = SendMail(Mail("b@test", "hi", b"hello\r\n"))
        wl = Workload("w", "", (step,), criteria, family=6, smtp_server=SmtpServerSpec())
        steps = [StepResult(step, (_op("smtp.config"), _op("smtp.body", octets="7"), _op("smtp.send", octets="7")))]
    else:
        pop3_session(trace, (source, 49200), (SERVER, POP3_PORT))
        opened, op = Pop3Open("mrose", "tanstaaf"), Pop3Op("quit")
        wl = Workload("w", "", (opened, op), criteria, family=6, pop3_server=Pop3ServerSpec())
        steps = [StepResult(opened, (_op("pop3.open", auth="user"),)), StepResult(op, (_op("pop3.quit"),))]
    tmp_path.mkdir(parents=True, exist_ok=True)
    pcap = trace.write(tmp_path / "wire.pcap")
    ev = RunEvidence(wl, tmp_path, INFO, 1500, steps=steps, pcap=pcap,
                     server_ports={protocol: SMTP_PORT if protocol == "smtp" else POP3_PORT},
                     **{protocol: Transcript(protocol, [])})
    return [v for v in judge_run(ev) if v.subject.endswith("source address") or v.criterion in WIRE]


def test_smtp_from_a_slaac_address_fails_smtp_conn_1_naming_it(tmp_path: Path) -> None:
    verdicts = judged(tmp_path, SLAAC, "smtp", ("SMTP-CONN-1", *WIRE))
    (addr,) = [v for v in verdicts if v.criterion == "SMTP-CONN-1"]
    assert addr.outcome is Outcome.FAIL
    assert SLAAC in addr.summary and DECLARED in addr.summary
    assert addr.evidence[0].packets == (1,) and f"connected from {SLAAC}" in addr.evidence[0].excerpt
    # the connection is still the device's: the wire criteria judge it, none for want of a match
    assert {v.criterion: v.outcome for v in verdicts if v.criterion in WIRE} == dict.fromkeys(WIRE, Outcome.PASS)


def test_pop3_from_a_slaac_address_fails_pop_conn_1(tmp_path: Path) -> None:
    (addr,) = judged(tmp_path, SLAAC, "pop3", ("POP-CONN-1",))
    assert addr.criterion == "POP-CONN-1" and addr.outcome is Outcome.FAIL and SLAAC in addr.summary


def test_the_declared_address_passes(tmp_path: Path) -> None:
    (addr,) = judged(tmp_path / "s", DECLARED, "smtp", ("SMTP-CONN-1",))
    assert addr.outcome is Outcome.PASS and DECLARED in addr.summary
    (addr,) = judged(tmp_path / "p", "fec0:0:0::15", "pop3", ("POP-CONN-1",))  # the same address, written longer
    assert addr.outcome is Outcome.PASS


@pytest.mark.emulated
def test_a_real_device_whose_banner_names_another_ip6(tmp_path: Path) -> None:
    """The reference firmware judged as if its banner declared fec0::99: one FAIL, POP-CONN-1
    naming fec0::15, the address it really used; every other criterion still judged, and passes."""
    import sys

    from bench.config import load_target
    from bench.session import bench_session

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
    import workloads as wl

    with bench_session(load_target("mps2-an385"), tmp_path) as session:
        device = session.boot()
        assert device.info is not None and device.info.ip6 == DECLARED
        device.info = replace(device.info, ip6="fec0::99")
        judged = ("POP-CONN-1", "POP-WIRE-1", "POP-WIRE-2", "NET-WIRE-1", "NET-WIRE-2", "POP-TRANS-3")
        _, verdicts = session.run(replace(wl.pop3_session(family=6), criteria=judged), "pop3-v6")
    bad = [v for v in verdicts if v.outcome is not Outcome.PASS]
    assert [(v.criterion, v.subject) for v in bad] == [("POP-CONN-1", "pop3 source address")], bad
    assert "connected from fec0::15" in bad[0].evidence[0].excerpt and "ip6=fec0::99" in bad[0].evidence[0].excerpt
    assert {v.criterion for v in verdicts} >= {"POP-WIRE-1", "POP-WIRE-2", "NET-WIRE-1", "POP-TRANS-3"}
