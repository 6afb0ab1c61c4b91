"""Errors raised by the configuration store and the topology loader."""

from __future__ import annotations

__all__ = ["ConfigError", "ConfigNotFoundError"]


class ConfigError(ValueError):
    """A configuration value was rejected; the message names the value and the fix."""


class ConfigNotFoundError(ConfigError, LookupError):
    """A named configuration item does not exist."""
