"""LLM teachers: policies and an engine over any OpenAI-compatible chat endpoint.

Example:
    >>> from dataenvgym.agents.llm import LLMTeacher, make_llm_agent
    >>> teacher = LLMTeacher.from_spec("openai:gpt-4o-mini", run_dir=Path("runs/x"))
    >>> teacher.check()                     # one clear line if the key or server is wrong
    >>> agent = make_llm_agent("with-state", "skill-tree", env.unwrapped.domain, teacher)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dataenvgym.agents.base import Agent
from dataenvgym.agents.llm.engine import LLMEngine, Target
from dataenvgym.agents.llm.policies import (
    Catalogue,
    OpenEndedLLMPolicy,
    SkillListLLMPolicy,
    SkillTreeLLMPolicy,
    SubskillProposer,
    scale_to_budget,
)
from dataenvgym.agents.llm.teacher import (
    LLMTeacher,
    TeacherOptions,
    parse_teacher,
    split_settings,
)
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import Domain, Policy
from dataenvgym.types import Action, Observation, Skill

__all__ = [
    "LLMEngine",
    "LLMTeacher",
    "OpenEndedLLMPolicy",
    "SkillListLLMPolicy",
    "SkillTreeLLMPolicy",
    "SubskillProposer",
    "Target",
    "TeacherOptions",
    "make_llm_agent",
    "parse_teacher",
    "scale_to_budget",
    "split_settings",
]

_POLICIES: dict[str, Callable[[LLMTeacher, str, Catalogue], Policy]] = {
    "open-ended": OpenEndedLLMPolicy,
    "skill-list": SkillListLLMPolicy,
    "skill-tree": SkillTreeLLMPolicy,
}


class _DeferredNoState:
    """The offline no-state policy over a catalogue that is known only after reset."""

    def __init__(self, catalogue: Callable[[], Sequence[Skill]]) -> None:
        self._catalogue = catalogue
        self._policy: Policy | None = None
        self._seed: int | None = None

    def reset(self, seed: int | None = None) -> None:
        self._policy, self._seed = None, seed

    def plan(self, observation: Observation) -> Action:
        if self._policy is None:
            from dataenvgym.agents.policies import NoStatePolicy

            self._policy = NoStatePolicy(list(self._catalogue()))
            self._policy.reset(self._seed)
        return self._policy.plan(observation)


def make_llm_agent(
    name: str,
    env: str,
    domain: Domain,
    teacher: LLMTeacher,
    *,
    catalogue: Catalogue | None = None,
) -> Agent:
    """An agent whose engine is the LLM.

    Args:
        name: ``with-state`` (the LLM policy of ``env`` reads the observation) or
            ``no-state`` (the paper's baseline: uniform plans blind to the observation; the
            LLM still writes the data).
        env: ``open-ended``, ``skill-list`` or ``skill-tree``.
        domain: The environment's domain (format and verifier of the data).
        teacher: The shared client and options.
        catalogue: The skills (a callable for skills discovered at reset); default gold.

    Raises:
        ConfigError: Unknown agent or environment name.
    """
    skills: Catalogue = catalogue if catalogue is not None else domain.skills()
    if env not in _POLICIES:
        raise ConfigError(f"unknown environment {env!r}; choose one of: {', '.join(_POLICIES)}")
    engine = LLMEngine(teacher, domain, skills)
    policy: Policy
    if name == "with-state":
        policy = _POLICIES[env](teacher, domain.name, skills)
    elif name == "no-state":
        if callable(skills):
            policy = _DeferredNoState(skills)
        else:
            from dataenvgym.agents.policies import NoStatePolicy

            policy = NoStatePolicy(list(skills))
    else:
        raise ConfigError(f"unknown agent {name!r}; choose one of: no-state, with-state")
    return Agent(policy=policy, engine=engine, name=f"{name}+{teacher.name}")
