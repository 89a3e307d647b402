"""Users' own agents, by entry point or by dotted path, beside the built-in ones.

An agent factory is a callable ``factory(env, domain) -> Agent`` (``env`` is the environment
kind, e.g. ``"skill-tree"``; ``domain`` the environment's domain). It may also return a bare
policy (``reset`` + ``plan``), which gets the domain's procedural engine. Name it

* by dotted path: ``--agent mypackage.teachers:make_teacher``, or
* by entry point, in the package's ``pyproject.toml``::

      [project.entry-points."dataenvgym.agents"]
      my-teacher = "mypackage.teachers:make_teacher"

  and then ``--agent my-teacher``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from dataenvgym.agents.base import Agent
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import Domain, Policy

ENTRY_POINT_GROUP = "dataenvgym.agents"

AgentFactory = Callable[[str, Domain], Any]


def entry_point_agents() -> dict[str, str]:
    """Agents other packages registered: name -> ``module:attribute``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def is_dotted_path(name: str) -> bool:
    """``module:factory`` (a module path, a colon, an attribute path)."""
    module, sep, attribute = name.partition(":")
    return bool(sep and module and attribute)


def load_factory(name: str) -> AgentFactory:
    """The factory behind an entry-point name or a ``module:factory`` path.

    Raises:
        ConfigError: not an entry point nor a dotted path, or it cannot be imported.
    """
    registered = entry_point_agents()
    if name in registered:
        target = registered[name]
        try:
            (entry,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
            factory = entry.load()
        except Exception as err:  # any import-time failure of a user's package
            raise ConfigError(
                f"agent entry point {name!r} ({target}) failed to load: {err}"
            ) from err
    elif is_dotted_path(name):
        module_name, _, attribute = name.partition(":")
        try:
            factory = importlib.import_module(module_name)
            for part in attribute.split("."):
                factory = getattr(factory, part)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"could not load agent {name!r}: {err}") from err
    else:
        raise ConfigError(f"{name!r} is neither an agent entry point nor a module:factory path")
    if not callable(factory):
        raise ConfigError(f"agent {name!r} is a {type(factory).__name__}, not a factory")
    return factory


def is_custom_agent(name: str) -> bool:
    """Whether ``name`` names a user's agent (it is not checked that it loads)."""
    return name in entry_point_agents() or is_dotted_path(name)


def build_custom_agent(name: str, env: str, domain: Domain) -> Agent:
    """Call a user's factory and make sure an :class:`Agent` comes back, named ``name``.

    Raises:
        ConfigError: the factory cannot be loaded or returns no agent.
    """
    made = load_factory(name)(env, domain)
    if isinstance(made, Agent):
        if made.name == "agent":  # the dataclass default: show the name the user ran
            made.name = name
        return made
    if isinstance(made, Policy):
        from dataenvgym.agents.procedural import ProceduralEngine
        from dataenvgym.protocols import ProceduralDomain

        if not isinstance(domain, ProceduralDomain):
            raise ConfigError(
                f"agent {name!r} returned a bare policy, which needs a domain with generators "
                f"for its data; {domain.name!r} has none: return an Agent with an engine"
            )
        return Agent(policy=made, engine=ProceduralEngine(domain), name=name)
    raise ConfigError(
        f"agent factory {name!r} returned a {type(made).__name__}; return a "
        "dataenvgym.agents.base.Agent (or a policy with reset and plan)"
    )
