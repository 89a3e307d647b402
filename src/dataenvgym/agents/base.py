"""An agent is a policy (observation -> plan) and an engine (plan -> data)."""

from __future__ import annotations

from dataclasses import dataclass

from dataenvgym.protocols import Engine, Policy
from dataenvgym.types import Action, Observation


@dataclass
class Agent:
    """A data generation agent.

    Attributes:
        policy: Decides what data to ask for.
        engine: Writes the data.
        name: Shown in run folders and tables.
        privileged: True for agents that see more than the environment's observation
            (an oracle); marked in every output.
        revision: The version of the agent's behaviour, kept in every run summary; bump it
            when a change makes old runs of the agent no longer its runs, and a leaderboard
            runs them again instead of reusing them. ``None``: unversioned.
    """

    policy: Policy
    engine: Engine
    name: str = "agent"
    privileged: bool = False
    revision: int | None = None
    seed: int = 0

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode."""
        self.seed = seed or 0
        self.policy.reset(seed)

    def act(self, observation: Observation) -> Action:
        """Plan, then write the data the plan asks for."""
        plan = self.policy.plan(observation)
        data = self.engine.generate(plan, observation, seed=self.seed)
        return plan.model_copy(update={"data": data})
