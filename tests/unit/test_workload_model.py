"""Workloads as data: criteria checked against the catalogue when a workload is made."""
from __future__ import annotations

import pytest

from bench.workload.model import Workload


def test_unknown_criterion_is_refused_when_the_workload_is_made() -> None:
    with pytest.raises(ValueError) as info:
        Workload("typo", "", (), ("SMTP-MAIL-2", "NOPE-1"))
    assert str(info.value) == "workload 'typo': unknown criterion NOPE-1 (not in docs/REQUIREMENTS.md, version 3)"


def test_criteria_default_to_the_tests_marker() -> None:
    assert Workload("w", "", ()).criteria == ()
    assert Workload("w", "", (), ("SMTP-MAIL-2",)).criteria == ("SMTP-MAIL-2",)
