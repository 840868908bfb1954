"""The report's sequence diagram shows no credential: AUTH LOGIN's base64 answers and PASS lines are redacted."""
from __future__ import annotations

import base64
from pathlib import Path

from bench.capture.synth import Conversation, Trace, pop3_session
from bench.capture.tcpflow import read_connections
from bench.report.diagrams import sequence


def test_sasl_answers_and_pass_lines_are_not_shown(tmp_path: Path) -> None:
    trace = Trace()
    c = Conversation(trace, ("10.0.2.15", 49160), ("10.0.2.2", 2525))
    c.handshake()
    c.send("s", b"220 mail.test ESMTP\r\n")
    for cmd, reply in ((b"EHLO dev\r\n", b"250 AUTH LOGIN\r\n"), (b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n"),
                       (base64.b64encode(b"device") + b"\r\n", b"334 UGFzc3dvcmQ6\r\n"),
                       (base64.b64encode(b"s3cret-pw") + b"\r\n", b"235 ok\r\n"), (b"QUIT\r\n", b"221 bye\r\n")):
        c.send("c", cmd)
        c.send("s", reply)
    c.close("c")
    pop3_session(trace, ("10.0.2.15", 49170), ("10.0.2.2", 1110))
    smtp, pop3 = read_connections(trace.write(tmp_path / "w.pcap"))
    labels = " ".join(e.label for conn in (smtp, pop3) for e in sequence(conn))
    for secret in (base64.b64encode(b"s3cret-pw").decode(), base64.b64encode(b"device").decode(), "tanstaaf"):
        assert secret not in labels, labels
    assert "EHLO dev" in labels and "AUTH LOGIN" in labels and "USER mrose" in labels and "[redacted]" in labels
