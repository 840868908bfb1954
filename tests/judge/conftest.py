"""The lab fixture (judge_lab.py) for this directory's tests."""
from judge_lab import lab  # noqa: F401
