"""The acceptance catalogue as the report lists it (see ``bench.config.catalogue``)."""
from __future__ import annotations

from bench.config.catalogue import Catalogue, Criterion, load_catalogue

__all__ = ["Catalogue", "Criterion", "load_catalogue"]
