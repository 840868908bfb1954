"""Two octet strings that should be equal, shown as text with the first
difference marked: what a person compares, not two Python ``b''`` reprs.

    differs at octet 1234 (line 17, column 3)
      got:  line 000016 the quick\r\n.leading dot
      want: line 000016 the quick\r\n..leading dot
                                      ^

CR and LF are shown as ``\\r`` and ``\\n`` so line ends can be compared; other
control octets and non-ASCII as ``\\xNN``. The bytes before the difference are
the same in both, so the caret sits under the first differing octet.
"""
from __future__ import annotations


def first_difference(a: bytes, b: bytes) -> int:
    """Offset of the first octet where ``a`` and ``b`` differ (the shorter length when one is a prefix)."""
    return next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))


def show_octets(data: bytes) -> str:
    """Octets as readable text: printable ASCII as is, CR/LF/TAB as escapes, the rest as ``\\xNN``."""
    out = []
    for c in data:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


def octet_diff(got: bytes, want: bytes, labels: tuple[str, str] = ("got", "want"), before: int = 24,
               after: int = 40) -> str:
    """A few lines: where they differ (octet, line, column), both around it, a caret under the first difference."""
    at = first_difference(got, want)
    if at == len(got) == len(want):
        return f"equal ({len(got)} octets)"
    start = max(0, at - before)
    line = got[:at].count(b"\n") + 1
    column = at - (got.rfind(b"\n", 0, at) + 1) + 1
    width = max(len(lb) for lb in labels) + 1
    lead = "…" if start else ""
    head = show_octets(got[start:at])
    rows = [f"differs at octet {at} (line {line}, column {column}); {labels[0]} {len(got)} octets, "
            f"{labels[1]} {len(want)}"]
    for label, data in zip(labels, (got, want)):
        tail = data[at:at + after]
        more = "…" if len(data) > at + after else "" if tail else "(ends here)"
        rows.append(f"  {label + ':':{width}} {lead}{head}{show_octets(tail)}{more}")
    rows.append(f"  {'':{width}} {' ' * (len(lead) + len(head))}^")
    return "\n".join(rows)
