"""Episode returns of the learned policy: the objective the trainer maximises.

A return is the student's final *validation* accuracy (the sum of the episode's rewards plus
the base student's accuracy, which every teacher shares); the test split is never read.
Every candidate of a generation plays the same episodes (setting and seed): common random
numbers, so that the differences between candidates are differences of their choices more
than of their luck. The with-state agent plays them too, once per generation, as the
yardstick of the learning curve.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.agents.base import Agent
from dataenvgym.agents.learned.policy import LEARNED_POLICIES, LearnedParams
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.config import EnvName, RunConfig
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import ProceduralDomain


class Setting(BaseModel):
    """An environment and a domain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: EnvName
    domain: str

    def label(self) -> str:
        return f"{self.env}/{self.domain}"


class EpisodeSettings(BaseModel):
    """The episodes a candidate is scored on.

    Attributes:
        settings: Training settings, cycled through (with ``seeds``) from one generation to
            the next.
        seeds: Training seeds (keep them apart from the seeds results are reported on).
        episodes_per_candidate: Episodes each candidate plays per generation.
        iterations: Teaching iterations per episode.
        budget: Data per iteration; None: the domain's default, as the built-in agents get.
        floor: The learned policy's uniform floor.
    """

    model_config = ConfigDict(extra="forbid")

    settings: list[Setting] = Field(
        default_factory=lambda: [
            Setting(env="skill-list", domain="arithmetic"),
            Setting(env="skill-tree", domain="arithmetic"),
        ],
        min_length=1,
    )
    seeds: list[int] = Field(default_factory=lambda: [1000, 1001], min_length=1)
    episodes_per_candidate: int = Field(default=1, ge=1)
    iterations: int = Field(default=3, ge=1)
    budget: int | None = Field(default=None, ge=1)
    floor: float = Field(default=0.2, ge=0, le=1)

    def schedule(self, generation: int) -> list[tuple[Setting, int]]:
        """The (setting, seed) episodes of ``generation``: the settings × seeds grid, taken
        ``episodes_per_candidate`` at a time, settings varying fastest."""
        grid = [(s, seed) for seed, s in itertools.product(self.seeds, self.settings)]
        start = generation * self.episodes_per_candidate
        return [grid[(start + i) % len(grid)] for i in range(self.episodes_per_candidate)]


def run_config(
    setting: Setting, seed: int, agent: str, iterations: int, budget: int | None
) -> RunConfig:
    """The :class:`RunConfig` of one scoring episode (test measured only at the ends)."""
    extra: dict[str, Any] = {"budget": budget} if budget is not None else {}
    return RunConfig(
        env=setting.env,
        domain=setting.domain,
        agent=agent,
        seed=seed,
        iterations=iterations,
        test_every_iteration=False,
        **extra,
    )


def play(
    setting: Setting,
    seed: int,
    *,
    params: LearnedParams | None = None,
    agent: str = "learned",
    iterations: int = 3,
    budget: int | None = None,
) -> dict[str, Any]:
    """One episode's summary (see :func:`dataenvgym.runner.run_episode`): the learned
    policy with ``params`` if given, else the built-in agent ``agent``."""
    # Imported here: the registry imports every domain and student, which the policy and
    # the trainer's tests do not need.
    from dataenvgym.registry import make_agent, make_env
    from dataenvgym.runner import run_episode

    config = run_config(setting, seed, agent, iterations, budget)
    env = make_env(**config.env_kwargs())
    domain = env.unwrapped.domain  # type: ignore[attr-defined]
    if params is None:
        teacher = make_agent(agent, setting.env, domain)
    else:
        if not isinstance(domain, ProceduralDomain):
            raise ConfigError(f"domain {domain.name!r} has no procedural generators")
        policy = LEARNED_POLICIES[setting.env](domain.skills(), params)
        teacher = Agent(policy=policy, engine=ProceduralEngine(domain), name="learned")
    return run_episode(env, teacher, seed=seed, test_every_iteration=False)


class EpisodeObjective:
    """The trainer's objective: each candidate's mean final validation accuracy over the
    generation's episodes; the with-state agent's on the same episodes goes to
    :meth:`info`."""

    def __init__(self, settings: EpisodeSettings) -> None:
        self.settings = settings
        self._baselines: dict[int, list[float]] = {}

    def _val(self, summary: dict[str, Any]) -> float:
        return float(summary["final"]["val_accuracy"])

    def __call__(self, candidates: Sequence[Sequence[float]], generation: int) -> list[float]:
        s = self.settings
        episodes = s.schedule(generation)
        self._baselines[generation] = [
            self._val(
                play(setting, seed, agent="with-state", iterations=s.iterations, budget=s.budget)
            )
            for setting, seed in episodes
        ]
        returns = []
        for vector in candidates:
            params = LearnedParams.from_vector(vector, floor=s.floor)
            values = [
                self._val(
                    play(setting, seed, params=params, iterations=s.iterations, budget=s.budget)
                )
                for setting, seed in episodes
            ]
            returns.append(statistics.fmean(values))
        return returns

    def info(self, generation: int) -> dict[str, Any]:
        """The generation's episodes and the with-state agent's return on them."""
        baselines = self._baselines.get(generation, [])
        return {
            "episodes": [
                {"setting": st.label(), "seed": seed}
                for st, seed in self.settings.schedule(generation)
            ],
            "with_state_return": statistics.fmean(baselines) if baselines else None,
        }
