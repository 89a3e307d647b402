"""Exceptions users can catch: each message says what is wrong and how to fix it."""

from __future__ import annotations


class DataEnvGymError(Exception):
    """Base class of the package's own errors."""


class InvalidActionError(DataEnvGymError, ValueError):
    """The action does not fit the environment's action space; nothing was trained."""


class ConfigError(DataEnvGymError, ValueError):
    """A configuration value (file, flag or keyword) is invalid."""
