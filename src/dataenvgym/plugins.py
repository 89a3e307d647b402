"""Users' own domains and students, by entry point or by ``module:factory`` path.

A *domain factory* is a callable ``factory(config: dict) -> Domain``; ``config`` is the run's
``domain_config`` (``{}`` when the run sets none). A *student factory* is a callable
``factory(config: dict) -> StudentFactory``; ``config`` is the run's ``student_config``, and a
factory that takes a second parameter also gets the run's ``pretrain`` settings. Name one

* by dotted path: ``--domain mypackage.domain:make_domain``, or
* by entry point, in the package's ``pyproject.toml``::

      [project.entry-points."dataenvgym.domains"]
      dice = "mypackage.domain:make_domain"

      [project.entry-points."dataenvgym.students"]
      my-student = "mypackage.student:make_student"

  and then ``--domain dice``. Built-in names win over an entry point of the same name.

Agents have the same two routes (group ``dataenvgym.agents``, see
:mod:`dataenvgym.agents.plugins`). Nothing here imports a plugin until it is used, so
listing what is installed stays cheap.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from dataenvgym.agents.plugins import is_dotted_path
from dataenvgym.envs.registration import DOMAIN_GROUP, PLUGIN_NAMESPACE
from dataenvgym.errors import ConfigError

__all__ = [
    "AGENT_GROUP",
    "DOMAIN_GROUP",
    "PLUGIN_NAMESPACE",
    "STUDENT_GROUP",
    "PluginInfo",
    "call_factory",
    "installed",
    "is_plugin_name",
    "load",
]

STUDENT_GROUP = "dataenvgym.students"
AGENT_GROUP = "dataenvgym.agents"


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin: its entry-point name, target and the package that declares it."""

    name: str
    target: str
    package: str


def _package(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown package"
    return f"{dist.name} {dist.version}"


def installed(group: str) -> dict[str, PluginInfo]:
    """Entry points of ``group`` that installed packages declare, by name."""
    return {
        ep.name: PluginInfo(ep.name, ep.value, _package(ep)) for ep in entry_points(group=group)
    }


def is_plugin_name(group: str, name: str) -> bool:
    """Whether ``name`` is an entry point of ``group`` or a ``module:factory`` path."""
    return is_dotted_path(name) or name in installed(group)


def load(group: str, kind: str, name: str) -> Callable[..., Any]:
    """The factory behind an entry-point name or a ``module:factory`` path.

    Args:
        group: The entry-point group.
        kind: What it builds, for messages (``domain``, ``student``).
        name: An entry-point name or ``module:attribute``.

    Raises:
        ConfigError: it is neither, it cannot be imported, or it is not callable.
    """
    found = [ep for ep in entry_points(group=group) if ep.name == name]
    if found:
        try:
            factory = found[0].load()
        except Exception as err:  # any import-time failure of a user's package
            raise ConfigError(
                f"{kind} entry point {name!r} ({found[0].value}) failed to load: "
                f"{type(err).__name__}: {err}"
            ) from err
    elif is_dotted_path(name):
        module_name, _, attribute = name.partition(":")
        try:
            factory = importlib.import_module(module_name)
            for part in attribute.split("."):
                factory = getattr(factory, part)
        except Exception as err:  # ImportError, AttributeError, or the module's own failure
            raise ConfigError(
                f"could not load {kind} {name!r}: {type(err).__name__}: {err}; check the "
                "module is importable (installed, or on PYTHONPATH) and the attribute exists"
            ) from err
    else:
        raise ConfigError(
            f"{name!r} is neither a built-in {kind}, a {kind} entry point (group {group!r}) "
            "nor a module:factory path; see `dataenvgym list`"
        )
    if not callable(factory):
        raise ConfigError(f"{kind} {name!r} is a {type(factory).__name__}, not a factory")
    return factory


def call_factory(
    factory: Callable[..., Any], kind: str, name: str, *configs: dict[str, Any]
) -> Any:
    """Call a user's factory with as many of ``configs`` as it takes.

    A factory that takes no parameter is called bare when every config is empty; one that takes
    fewer parameters than there are non-empty configs is an error (its settings would be lost).

    Raises:
        ConfigError: the settings do not fit the factory, or the factory raises.
    """
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: assume one parameter
        params = []
        takes = 1
    else:
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        takes = len(configs) if variadic else min(len(positional), len(configs))
    needed = max((i + 1 for i, c in enumerate(configs) if c), default=0)
    if needed > takes:
        raise ConfigError(
            f"{kind} factory {name!r} takes {takes} settings argument(s) but the run sets "
            f"{needed}; remove the extra settings or add a parameter to the factory"
        )
    try:
        return factory(*configs[:takes])
    except Exception as err:  # a user's factory rejecting its settings, or failing
        raise ConfigError(
            f"{kind} factory {name!r} raised {type(err).__name__}: {err}".rstrip(": ")
        ) from err
