"""Server transcripts rebuilt from a capture (bench.capture.wire_transcript), on synthetic
captures whose every segment is placed by hand; the comparison with the emulator's own
transcript of a real session is in tests/lab/test_external_servers.py."""
from __future__ import annotations

import base64
from pathlib import Path

from bench.capture.synth import Conversation, Trace, pop3_session
from bench.capture.wire_transcript import from_capture


def test_pop3_user_pass_retr_unstuffed_and_redacted(tmp_path: Path) -> None:
    trace = Trace()
    message = b"Subject: x\r\n\r\n..dotted\r\nbody\r\n"
    pop3_session(trace, ("10.0.2.15", 49153), ("10.0.2.2", 1110), message=message)
    wire = from_capture(trace.write(tmp_path / "w.pcap"), "pop3", 1110)
    (s,) = wire.transcript.sessions
    assert wire.transcript.source == "wire"
    assert (s.auth_method, s.auth_user, s.auth_ok) == ("user", "mrose", True)
    assert s.commands == ["USER", "PASS", "STAT", "RETR", "QUIT"]
    assert s.retrieved == [1] and s.deleted == [] and s.closed_by == "client" and s.peer == "10.0.2.15:49153"
    assert wire.served == {"mrose": {1: b"Subject: x\r\n\r\n.dotted\r\nbody\r\n"}}
    shown = b"".join(ln.data for ln in s.lines)
    assert b"tanstaaf" not in shown and b"PASS ********\r\n" in shown
    assert [ln.direction for ln in s.lines[:3]] == ["s>c", "c>s", "s>c"]


def _smtp_login(trace: Trace, data_segment: int) -> None:
    c = Conversation(trace, ("10.0.2.15", 49160), ("10.0.2.2", 2525))
    c.handshake()
    c.send("s", b"220 mail.test ESMTP\r\n")
    user, password = base64.b64encode(b"device"), base64.b64encode(b"s3cret")
    for cmd, reply in ((b"EHLO dev\r\n", b"250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n"),
                       (b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n"), (user + b"\r\n", b"334 UGFzc3dvcmQ6\r\n"),
                       (password + b"\r\n", b"235 2.7.0 ok\r\n"),
                       (b"MAIL FROM:<device@bench.test>\r\n", b"250 ok\r\n"),
                       (b"RCPT TO:<a@bench.test>\r\n", b"250 ok\r\n"), (b"RCPT TO:<b@bench.test>\r\n", b"550 no\r\n"),
                       (b"DATA\r\n", b"354 go\r\n")):
        c.send("c", cmd)
        c.send("s", reply)
    c.send("c", b"Subject: s\r\n\r\n..a dot\r\nend\r\n.\r\n", seg=data_segment)
    c.send("s", b"250 2.0.0 stored\r\n")
    c.send("c", b"QUIT\r\n")
    c.send("s", b"221 bye\r\n", ack=False)
    c.close("s")


def test_smtp_auth_login_envelope_and_stored_message(tmp_path: Path) -> None:
    trace = Trace()
    _smtp_login(trace, data_segment=7)  # the DATA section split across segments, mid-line
    wire = from_capture(trace.write(tmp_path / "w.pcap"), "smtp", 2525)
    (s,) = wire.transcript.sessions
    assert (s.auth_method, s.auth_user, s.auth_ok) == ("login", "device", True)
    assert s.commands == ["EHLO", "AUTH", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    (m,) = s.messages
    assert (m.mail_from, m.rcpt_to) == ("device@bench.test", ["a@bench.test"])
    assert m.data == b"Subject: s\r\n\r\n.a dot\r\nend\r\n" and m.raw_wire.endswith(b"\r\n.\r\n")
    assert s.closed_by == "server"
    shown = b"".join(ln.data for ln in s.lines if ln.direction == "c>s")
    assert base64.b64encode(b"s3cret") not in shown and base64.b64encode(b"device") not in shown


def test_only_connections_to_the_servers_port_are_read(tmp_path: Path) -> None:
    trace = Trace()
    _smtp_login(trace, data_segment=1460)
    pop3_session(trace, ("10.0.2.15", 49170), ("10.0.2.2", 1110))
    path = trace.write(tmp_path / "w.pcap")
    assert [len(from_capture(path, "smtp", p).transcript.sessions) for p in (2525, 1110, 25)] == [1, 1, 0]
    assert from_capture(None, "smtp", 25).transcript.sessions == []
