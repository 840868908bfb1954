"""A small synthetic run directory for the HTML report tests (and for looking at the report).

One POP3 test whose capture (written with scapy's ``wrpcap``) holds a client
segment above the declared POP3 payload, judged by the real wire checks; one
SMTP test without artifacts; one failed test with an error and no verdicts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from bench.agent.device import DeviceInfo, DeviceLimits
from bench.agent.uartlog import UartRecord
from bench.capture.tcpflow import read_connections
from bench.checks.verdict import Evidence, Measurement, Outcome, Verdict
from bench.checks.wire import WireLimits, check_wire
from bench.config import load_target
from bench.report.identity import judged
from bench.report.store import RunRecord, TestRecord
from bench.servers.transcript import Session, Transcript, TranscriptLine
from bench.session import BootRecord

T0 = 1_700_000_000.0
REPLY_LATE = 0.0003  # the transcript line of one reply, after its packet's (early) capture stamp
DEV, SRV = ("10.0.2.15", 49153), ("10.0.2.2", 110)
POP3_PAYLOAD = 120
SCRIPT = "<script>alert('x')</script>"
LIMITS = DeviceLimits(mtu=1500, mss=1460, mss6=1440, pop3_payload=POP3_PAYLOAD, smtp_payload=1024,
                      tcp_wnd=8192, body_max=4096)
POP_NODE = "tests/acceptance/test_pop3.py::test_user_pass_login"


@dataclass
class SyntheticRun:
    run_dir: Path
    test_dir: Path
    pcap: Path
    big_frame: int  # the client segment above POP3_PAYLOAD
    big_size: int
    leak_line_t: float  # the UART line a failed DEV-ROB-2 verdict cites (by the op's end time, just after)
    record: RunRecord
    image_sha256: str  # of the image the run says it judged


class _Tcp:
    """Sequence numbers for one hand-made connection; frames 10 ms apart from ``T0 + 0.010``."""

    def __init__(self) -> None:
        self.seq = {"c": 1000, "s": 500_000}
        self.frames: list[Ether] = []

    def put(self, side: str, flags: str, payload: bytes = b"", mss: int | None = None) -> int:
        (sip, sp), (dip, dp) = (DEV, SRV) if side == "c" else (SRV, DEV)
        other = "s" if side == "c" else "c"
        opts = [("MSS", mss)] if mss else []
        pkt = Ether() / IP(src=sip, dst=dip) / TCP(sport=sp, dport=dp, seq=self.seq[side],
                                                    ack=self.seq[other] if "A" in flags else 0,
                                                    flags=flags, window=5840, options=opts)
        if payload:
            pkt = pkt / Raw(payload)
        pkt.time = T0 + 0.010 * (len(self.frames) + 1)
        self.frames.append(pkt)
        self.seq[side] += len(payload) + (1 if "S" in flags or "F" in flags else 0)
        return len(self.frames)

    def time_of(self, frame: int) -> float:
        return T0 + 0.010 * frame


def build_run(root: Path) -> SyntheticRun:
    run_dir = root / "20231114-221320-mps2-an385"
    test = TestRecord(POP_NODE, criteria=("POP-WIRE-2", "POP-AUTH-1", "NET-WIRE-2"))
    test_dir = run_dir / test.dirname
    test_dir.mkdir(parents=True)

    tcp = _Tcp()
    tcp.put("c", "S", mss=1460)
    tcp.put("s", "SA", mss=1460)
    tcp.put("c", "A")
    greet = tcp.put("s", "PA", b"+OK POP3 ready <1.2@bench>\r\n")
    user = tcp.put("c", "PA", b"USER alice\r\n")
    user_ok = tcp.put("s", "PA", b"+OK\r\n")
    big_payload = b"PASS " + b"p" * 125 + b"\r\n"
    big = tcp.put("c", "PA", big_payload)
    ready = tcp.put("s", "PA", b"+OK maildrop ready\r\n")
    tcp.put("c", "PA", b"QUIT\r\n")
    bye = tcp.put("s", "PA", b"+OK bye\r\n")
    tcp.put("c", "FA")
    tcp.put("s", "FA")
    tcp.put("c", "A")
    pcap = test_dir / "wire.pcap"
    wrpcap(str(pcap), tcp.frames)

    # the UART: the agent asks the device to open a POP3 session, the device answers
    uart = [UartRecord(T0 + 0.001, "host", b"pop3 open 10.0.2.2 110 alice ********"),
            UartRecord(tcp.time_of(user) + 0.002, "dev", b"evt pop3 state=auth"),
            UartRecord(tcp.time_of(big) + 0.025, "dev", b"ok pop3 open status=0 <done>"),
            UartRecord(T0 + 0.200, "dev", b"ok mem heap=40960 pool=12")]
    (test_dir / "uart.log").write_text("".join(r.render() + "\n" for r in uart))

    # the server transcript, written by the emulators' own writer
    lines = [TranscriptLine(tcp.time_of(greet) - 0.0005, 1, "s>c", b"+OK POP3 ready <1.2@bench>\r\n"),
             TranscriptLine(tcp.time_of(user) + 0.0005, 1, "c>s", b"USER alice\r\n"),
             # the capture's clock runs early: this reply's packet is stamped 0.3 ms before the server wrote it
             TranscriptLine(tcp.time_of(user_ok) + REPLY_LATE, 1, "s>c", b"+OK\r\n"),
             TranscriptLine(tcp.time_of(big) + 0.0005, 1, "c>s", b"PASS ********\r\n", "auth ok # redacted"),
             TranscriptLine(tcp.time_of(big) + 0.0010, 1, "c>s", b"\x00<b>odd</b>\xff\r\n", "fault: garbage"),
             TranscriptLine(tcp.time_of(ready) - 0.0005, 1, "s>c", b"+OK maildrop ready\r\n"),
             TranscriptLine(tcp.time_of(bye) - 0.0005, 1, "s>c", b"+OK bye\r\n"),
             TranscriptLine(tcp.time_of(13) + 0.001, 1, "event", b"closed by client")]
    transcript = Transcript("pop3", [Session(1, "pop3", f"{DEV[0]}:{DEV[1]}", T0, lines=lines, auth_method="user",
                                             auth_ok=True)])
    transcript.write(test_dir / "pop3-transcript.txt")

    # verdicts: the real wire checks on the capture, plus hand-made ones
    limits = WireLimits.from_device(LIMITS, pop3_ports=[110], smtp_ports=[25])
    wire = check_wire(read_connections(pcap), limits, pcap, ["POP-WIRE-2", "NET-WIRE-2"])
    pop_wire_1 = Verdict("POP-WIRE-1", Outcome.FAIL, "POP3 command framing broken",
                         (Evidence("pcap", f"packet {big}", f"command too long: {SCRIPT} & more", pcap, (big,)),),
                         (Measurement("longest command", len(big_payload), 100, "<=", "octets"),),
                         "connection 10.0.2.15:49153 -> 10.0.2.2:110",
                         follows="POP-WIRE-2", follows_reason="the oversized segment carried the long command")
    auth = Verdict("POP-AUTH-1", Outcome.PASS, "USER then PASS, nothing before +OK",
                   (Evidence("transcript", "line 3", "USER alice", test_dir / "pop3-transcript.txt"),))
    trans = Verdict("POP-TRANS-1", Outcome.INCONCLUSIVE, "the device's STAT answer is not in the UART log")
    leak = Verdict("DEV-ROB-2", Outcome.FAIL, "heap below its baseline after the session",
                   (Evidence("uart", f"t={uart[-1].t + 0.00015:.6f}", "ok mem heap=40960 pool=12",  # the op's end
                             test_dir / "uart.log"),),
                   (Measurement("heap lost", 8192, 0, "<=", "octets"),))
    test.verdicts = [pop_wire_1, *wire, auth, trans, leak]  # the consequence recorded before its cause
    annotated = test_dir / "wire.annotated.pcapng"  # what bench.capture.annotate writes: here only its name matters
    annotated.write_bytes(b"\x0a\x0d\x0d\x0a")
    test.artifacts = [{"workload": "pop3-user-pass", "directory": str(test_dir), "pcap": str(pcap),
                       "annotated_pcap": str(annotated),
                       "uart_log": str(test_dir / "uart.log"),
                       "transcripts": [str(test_dir / "pop3-transcript.txt")],
                       "t_start": T0, "t_end": T0 + 0.2}]
    test.outcome, test.duration = "failed", 1.234

    smtp = TestRecord("tests/acceptance/test_smtp.py::test_plain_auth", criteria=("SMTP-CONN-1",))
    smtp.verdicts = [Verdict("SMTP-CONN-1", Outcome.PASS, "1 mail on the connection, closed by client",
                             subject="connection 10.0.2.15:49154 -> 10.0.2.2:25")]
    smtp.outcome, smtp.duration = "passed", 0.5
    broken = TestRecord("tests/acceptance/test_robust.py::test_stall", criteria=("DEV-ROB-1",))
    broken.outcome, broken.error = "failed", "TimeoutError: device did not answer <hello>"

    info = DeviceInfo(fw="mailclient 0.3.1 (abc1234)", board="mps2-an385", caps=frozenset({"pop3", "smtp", "ipv6"}),
                      limits=LIMITS, ip="10.0.2.15", ip6="fec0::15")
    record = RunRecord("20231114-221320-mps2-an385", "mps2-an385", run_dir, started=T0 - 2.5, finished=T0 + 3.0,
                       device=info, boots=[BootRecord(T0 - 2.4, T0 - 1.9, "session start")],
                       tests=[test, smtp, broken])
    image = root / "my-fw.elf"  # what `bench run --image my-fw.elf` was given
    image.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    record.judged = judged(load_target("mps2-an385"), image)
    record.write()
    (run_dir / "uart-session.log").write_text((test_dir / "uart.log").read_text())
    return SyntheticRun(run_dir, test_dir, pcap, big, len(big_payload), uart[-1].t, record,
                        hashlib.sha256(image.read_bytes()).hexdigest())


if __name__ == "__main__":  # python tests/report/synthetic.py <dir>: build, render, print the report path
    import sys

    from bench.report.html import write_html_report

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/synthetic-run")
    out.mkdir(parents=True, exist_ok=True)
    import shutil

    shutil.rmtree(out / "20231114-221320-mps2-an385", ignore_errors=True)
    sys.stdout.write(f"{write_html_report(build_run(out).run_dir)}\n")
