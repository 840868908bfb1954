from pathlib import Path

import pytest

from bench.checks.catalogue import CHECKS
from bench.config import ConfigError
from bench.config.catalogue import load_catalogue, parse_catalogue


def test_every_catalogue_criterion_has_a_check_and_no_check_is_invented() -> None:
    catalogue = load_catalogue()
    assert catalogue.path.parts[-2:] == ("docs", "REQUIREMENTS.md")
    assert catalogue.version == "3"
    assert len(catalogue.criteria) == 30
    assert catalogue.ids == set(CHECKS)


def test_the_catalogue_points_nowhere_outside_the_project() -> None:
    text = load_catalogue().path.read_text()
    assert "../" not in text and "shared/" not in text


def test_a_file_without_criteria_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no catalogue"):
        parse_catalogue("# nothing here\n", Path("x.md"))
