"""The built-in agent ``learned``: the learned policy with the shipped θ, and the procedural
engine that the other built-in agents use."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dataenvgym.agents.base import Agent
from dataenvgym.agents.learned.cem import CEMState
from dataenvgym.agents.learned.policy import LEARNED_POLICIES, LearnedParams
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import Domain, ProceduralDomain

#: The checkpoint shipped in the package (written by ``dataenvgym train-teacher``).
SHIPPED_CHECKPOINT = "teacher.json"

#: :attr:`Agent.revision` of the learned agent: bump it whenever the shipped checkpoint or
#: the features change, so that a leaderboard runs the agent's episodes again.
LEARNED_REVISION = 1


def load_params(path: Path | None = None) -> LearnedParams:
    """The learned parameters of a training checkpoint (default: the shipped one).

    Raises:
        ConfigError: the file is missing or is not a training checkpoint.
    """
    try:
        if path is None:
            text = resources.files(__package__).joinpath(SHIPPED_CHECKPOINT).read_text()
        else:
            text = path.read_text()
        state = CEMState.model_validate_json(text)
    except (OSError, ValueError) as err:
        where = path or f"the package's {SHIPPED_CHECKPOINT}"
        raise ConfigError(f"cannot read a learned-teacher checkpoint from {where}: {err}") from err
    floor = float(state.settings.get("floor", 0.2))
    return LearnedParams.from_vector(state.mean, floor=floor)


def make_learned_agent(env: str, domain: Domain, params: LearnedParams | None = None) -> Agent:
    """The learned agent for an environment kind (``open-ended``, ``skill-list``,
    ``skill-tree``) and a domain with procedural generators.

    Raises:
        ConfigError: the domain has no generators (use an LLM teacher instead).
    """
    if not isinstance(domain, ProceduralDomain):
        raise ConfigError(
            f"the learned agent needs a domain with procedural generators; {domain.name!r} has none"
        )
    policy = LEARNED_POLICIES[env](domain.skills(), params or load_params())
    return Agent(
        policy=policy, engine=ProceduralEngine(domain), name="learned", revision=LEARNED_REVISION
    )
