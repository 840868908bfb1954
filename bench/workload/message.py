"""What the device must put on the wire and what the server must store for a Mail
(docs/agent-protocol.md, "Message format sent by smtp.send")."""
from __future__ import annotations

from bench.workload.fill import fill_pattern
from bench.workload.model import Mail, SmtpClientSettings

_PRIORITY_HEADER = {"high": b"X-Priority: 1 (high)\r\n", "low": b"X-Priority: 5 (low)\r\n", "normal": b""}


def body_bytes(mail: Mail) -> bytes:
    return fill_pattern(mail.fill) if mail.fill else mail.body


def expected_message(mail: Mail, client: SmtpClientSettings) -> bytes:
    """The message as the server must store it: headers, blank line, body byte for
    byte, plus the CRLF the client must add when the body does not end in one
    (the terminator's first CRLF ends the last line)."""
    head = (
        b"From: " + client.mail_from.encode() + b"\r\n"
        b"To: " + mail.to.encode() + b"\r\n"
        b"Subject: " + mail.subject.encode() + b"\r\n" + _PRIORITY_HEADER[mail.priority] + b"\r\n"
    )
    body = body_bytes(mail)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return head + body


def dot_stuff(message: bytes) -> bytes:
    """The DATA section on the wire: a dot opening a line is doubled (after any LF,
    so a server that ends lines at a bare LF cannot be fooled), then ``.\r\n``."""
    stuffed = (b"." if message.startswith(b".") else b"") + message.replace(b"\n.", b"\n..")
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
