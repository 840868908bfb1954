import pytest

from bench.checks.verdict import Evidence, Measurement, Outcome, inconclusive, judge


@pytest.mark.parametrize(
    "value,limit,cmp,ok",
    [(120, 120, "<=", True), (121, 120, "<=", False), (1, 1, "==", True), (2, 1, "==", False), (5, 6, ">=", False), (None, 3, "<=", False)],
)
def test_measurement_comparators(value, limit, cmp, ok) -> None:
    assert Measurement("x", value, limit, cmp).passes() is ok


def test_judge_cites_failures_or_support() -> None:
    e = Evidence("pcap", "packet 3", "oversize", packets=(3,))
    bad = judge("POP-WIRE-2", [e], ok="fine", bad="too big")
    assert bad.outcome is Outcome.FAIL and bad.evidence == (e,) and not bad.passed
    good = judge("POP-WIRE-2", [], ok="fine", bad="too big", support=(e,))
    assert good.passed and good.summary == "fine"
    assert inconclusive("X-1", "no capture").outcome is Outcome.INCONCLUSIVE
