"""Configuration: what a target is, read from its file under ``targets/``."""
from bench.config.target import (
    BoardConfig,
    CaptureConfig,
    ConfigError,
    ConsoleConfig,
    NetworkConfig,
    TargetConfig,
    load_target,
    project_root,
)

__all__ = [
    "BoardConfig",
    "CaptureConfig",
    "ConfigError",
    "ConsoleConfig",
    "NetworkConfig",
    "TargetConfig",
    "load_target",
    "project_root",
]
