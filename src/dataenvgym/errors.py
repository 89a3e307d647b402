"""Exceptions users can catch: each message says what is wrong and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class DataEnvGymError(Exception):
    """Base class of the package's own errors."""


class InvalidActionError(DataEnvGymError, ValueError):
    """The action does not fit the environment's action space; nothing was trained."""


class ConfigError(DataEnvGymError, ValueError):
    """A configuration value (file, flag or keyword) is invalid."""


class TeacherDegraded(DataEnvGymError):
    """An iteration got (almost) no usable data from the teacher; the run stopped before
    training on it, with every finished iteration kept for ``--resume``."""


def first_validation_error(err: ValidationError, root: str = "") -> str:
    """The first problem pydantic found, as ``where: message`` on one line.

    Args:
        err: The validation error.
        root: What to call the location when the problem is the whole object.

    Returns:
        The dotted field path (or ``root``), a colon and pydantic's message.
    """
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or root
    return f"{where}: {first['msg']}"
