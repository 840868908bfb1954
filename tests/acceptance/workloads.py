"""Workloads of the acceptance suite: plain data, judged by the criteria they list."""
from __future__ import annotations

from bench.workload.fill import fill_pattern
from bench.workload.model import Mail, SendMail, SmtpServerSpec, Workload


def dotted_body(size: int = 6 * 1024) -> bytes:
    """Several KiB of text whose lines include some starting with '.' (and a lone '.')."""
    text = fill_pattern(size - 40)
    return b".first line starts with a dot\r\n" + text[: text.rfind(b"\r\n") + 2] + b".\r\n..two dots\r\n"


def one_mail(family: int = 4) -> Workload:
    return Workload(
        name=f"smtp-one-mail-ipv{family}",
        description="send one mail with a body of several KiB that includes lines starting with '.'",
        steps=(SendMail(Mail(to="inbox@bench.test", subject="Bench slice: one mail", body=dotted_body())),),
        criteria=("SMTP-MAIL-1", "SMTP-MAIL-2", "SMTP-MAIL-3", "NET-WIRE-1"),
        family=family,  # type: ignore[arg-type]
        smtp_server=SmtpServerSpec(),
    )
