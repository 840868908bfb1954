"""Differences between two octet strings, as text a person compares."""
from __future__ import annotations

from bench.checks.octets import first_difference, octet_diff


def test_diff_marks_the_first_differing_octet_as_text() -> None:
    stored = b"line 1\r\nline 2\r\n.leading dot\r\n"
    expected = b"line 1\r\nline 2\r\n..leading dot\r\n"
    text = octet_diff(stored, expected, ("stored", "expected"))
    head, got, want, caret = text.splitlines()
    assert head == "differs at octet 17 (line 3, column 2); stored 30 octets, expected 31"
    assert got == r"  stored:   line 1\r\nline 2\r\n.leading dot\r\n"
    assert want == r"  expected: line 1\r\nline 2\r\n..leading dot\r\n"
    assert "b'" not in text
    assert got[caret.index("^")] == "l" and want[caret.index("^")] == "."


def test_prefix_and_binary_octets() -> None:
    assert first_difference(b"abc", b"abcdef") == 3
    text = octet_diff(b"ab\x00", b"ab\x00\xff")
    assert "(ends here)" in text and r"\x00\xff" in text
    assert octet_diff(b"same", b"same") == "equal (4 octets)"
