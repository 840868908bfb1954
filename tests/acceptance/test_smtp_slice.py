"""The thin slice: one mail, really sent, really captured, really judged."""
from __future__ import annotations

import pytest

from workloads import one_mail


@pytest.mark.criterion("SMTP-MAIL-1", "SMTP-MAIL-2", "SMTP-MAIL-3", "NET-WIRE-1")
def test_one_mail_with_dotted_body_ipv4(bench) -> None:
    evidence = bench.check(one_mail(family=4))
    assert evidence.steps[-1].final.ok, evidence.steps[-1].final.describe()
