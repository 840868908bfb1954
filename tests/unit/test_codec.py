import pytest

from bench.agent.codec import (
    DataLine,
    Noise,
    Reply,
    Unsolicited,
    format_request,
    parse_line,
    pct_decode,
    pct_encode,
    redact,
)


@pytest.mark.parametrize("raw", [b"", b"plain", b"a b=c%d\r\n", bytes(range(256)), b"fec0::2"])
def test_percent_round_trip(raw: bytes) -> None:
    enc = pct_encode(raw)
    assert " " not in enc and "=" not in enc and "\n" not in enc
    assert pct_decode(enc) == raw


def test_percent_encoding_keeps_safe_bytes_and_uppercases_hex() -> None:
    assert pct_encode("a.b_c~d:e/f@g+h-i") == "a.b_c~d:e/f@g+h-i"
    assert pct_encode(b"\x00 =%") == "%00%20%3D%25"


def test_format_request() -> None:
    assert format_request("7", "pop3.open", {"host": "10.0.2.2", "port": 110, "pass": "a b"}) == (
        b"7 pop3.open host=10.0.2.2 port=110 pass=a%20b\n"
    )


@pytest.mark.parametrize("tag,verb,args", [("", "x", {}), ("toolongtag", "x", {}), ("1", "X", {}), ("1", "x", {"K": 1})])
def test_format_request_rejects_bad_parts(tag: str, verb: str, args: dict) -> None:
    with pytest.raises(ValueError):
        format_request(tag, verb, args)


def test_format_request_rejects_overlong_line() -> None:
    with pytest.raises(ValueError, match="512"):
        format_request("1", "smtp.body", {"data": "A" * 600})


def test_parse_replies_and_data() -> None:
    ok = parse_line(b"9 ok n=1 octets=120 md5=0f34")
    assert isinstance(ok, Reply) and ok.ok and ok.int("octets") == 120 and ok.get("md5") == "0f34"
    err = parse_line(b"9 err code=server stage=rcpt reply=550 msg=no%20such%20user\r")
    assert isinstance(err, Reply) and not err.ok and err.code == "server" and err.get("msg") == "no such user"
    data = parse_line(b"9 data aGVsbG8=")
    assert data == DataLine("9", b"hello")


def test_parse_unsolicited_and_noise() -> None:
    boot = parse_line(b"* boot proto=1 fw=bench-ref/0.1.0 mss=1460")
    assert isinstance(boot, Unsolicited) and boot.kind == "boot" and boot.fields["mss"] == b"1460"
    log = parse_line(b"* log link up")
    assert isinstance(log, Unsolicited) and log.text == "link up"
    assert isinstance(parse_line(b"random printf output"), Noise)
    assert isinstance(parse_line(b"12345678 something"), Noise)


@pytest.mark.parametrize("line,why", [
    (b"3 err stage=x", "without code"),
    (b"3 data !!!notbase64", "bad base64"),
    (b"3 ok novalue", "bad field"),
    (b"Link ok now", "bad field"),
    (b"Status err", "without code"),
])
def test_malformed_replies_are_noise_with_the_reason(line: bytes, why: str) -> None:
    msg = parse_line(line)
    assert isinstance(msg, Noise) and msg.text == line and why in msg.why


def test_secrets_are_redacted_for_logs() -> None:
    line = format_request("4", "pop3.open", {"user": "mrose", "pass": "tan staaf", "apop": 1})
    assert redact(line) == b"4 pop3.open user=mrose pass=******** apop=1\n"
    assert redact(b"5 smtp.config passive=1") == b"5 smtp.config passive=1"
