from bench.workload.fill import fill_pattern
from bench.workload.message import dot_stuff, expected_message
from bench.workload.model import Mail, SmtpClientSettings


def test_fill_pattern_is_cut_exactly_and_has_dotted_lines() -> None:
    text = fill_pattern(5000)
    assert len(text) == 5000
    assert text.startswith(b"line 000000 the quick brown fox")
    assert b"\r\n.leading dot line 000005\r\n" in text
    assert fill_pattern(10) == text[:10]


def test_expected_message_headers_and_priority() -> None:
    mail = Mail(to="a@b", subject="Hi", body=b"x\r\n", priority="high")
    msg = expected_message(mail, SmtpClientSettings(mail_from="d@e"))
    assert msg == b"From: d@e\r\nTo: a@b\r\nSubject: Hi\r\nX-Priority: 1 (high)\r\n\r\nx\r\n"


def test_dot_stuffing_doubles_leading_dots_only() -> None:
    assert dot_stuff(b".a\r\nb.c\r\n.\r\n") == b"..a\r\nb.c\r\n..\r\n.\r\n"
    assert dot_stuff(b"no final crlf") == b"no final crlf\r\n.\r\n"


def test_dot_stuffing_after_a_bare_lf_too() -> None:
    assert dot_stuff(b"a\n.b\r\n") == b"a\n..b\r\n.\r\n"
