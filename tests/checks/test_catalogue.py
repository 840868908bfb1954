from bench.checks.catalogue import CHECKS
from bench.report.criteria import _BUILTIN, find_requirements, parse_requirements


def test_every_catalogue_criterion_has_a_check_and_no_check_is_invented() -> None:
    builtin = {cid for cid, _, _ in _BUILTIN}
    path = find_requirements()
    if path is not None:  # shared/ beside the project (CI, developers): the source of truth
        assert {c.id for c in parse_requirements(path.read_text())} == builtin
    assert len(builtin) == 29
    assert builtin == set(CHECKS)
