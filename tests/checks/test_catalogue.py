import re
from pathlib import Path

from bench.checks.catalogue import CHECKS

REQUIREMENTS = Path(__file__).resolve().parents[3] / "shared" / "docs" / "REQUIREMENTS.md"


def test_every_catalogue_criterion_has_a_check_and_no_check_is_invented() -> None:
    text = REQUIREMENTS.read_text()
    ids = set(re.findall(r"^\| ((?:POP|SMTP|NET|DEV)-[A-Z]+-\d+) \|", text, re.M))
    assert len(ids) == 29
    assert ids == set(CHECKS)
