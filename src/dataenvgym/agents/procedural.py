"""The procedural engine: turns any of the three plans into data with the domain's generators.

It writes exactly what the plan asks for: per spec (Open-Ended), per requested skill split
over its targeted subskills (Skill-List), per allocated subskill (Skill-Tree). It avoids
repeating its own earlier data within an episode; it cannot know the evaluation splits, so
the environment's contamination guard still applies.
"""

from __future__ import annotations

import random

from dataenvgym.agents.allocation import uniform
from dataenvgym.protocols import ProceduralDomain
from dataenvgym.skills.forest import apply_tree_action
from dataenvgym.types import (
    Action,
    Observation,
    OpenEndedAction,
    SkillListAction,
    SkillTreeAction,
    SkillTreeObservation,
    TrainingDatum,
    subskill_key,
)

_MAX_REDRAWS = 4


class ProceduralEngine:
    """An :class:`~dataenvgym.protocols.Engine` over a built-in domain's generators."""

    def __init__(self, domain: ProceduralDomain) -> None:
        self.domain = domain
        self.catalogue = {s.name: list(s.subskills) for s in domain.skills()}
        self._seen: set[str] = set()
        self.skipped: dict[str, int] = {}

    def generate(self, plan: Action, observation: Observation, *, seed: int) -> list[TrainingDatum]:
        if observation.iteration == 0:
            self._seen = set()  # a new episode
        rng = random.Random(f"engine:{seed}:{observation.iteration}")
        wanted = self.planned_counts(plan, observation, seed=seed)
        data: list[TrainingDatum] = []
        for (skill, subskill), count in wanted.items():
            if count <= 0:
                continue
            if subskill not in self.catalogue.get(skill, []):
                # Not a subskill this domain can generate: count it rather than guess.
                key = subskill_key(skill, subskill)
                self.skipped[key] = self.skipped.get(key, 0) + count
                continue
            data.extend(self._fresh(skill, subskill, count, rng))
        return data

    def _fresh(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        """``count`` data not generated before in this episode (when the space allows)."""
        out: list[TrainingDatum] = []
        for _ in range(_MAX_REDRAWS):
            for datum in self.domain.generate(skill, subskill, count - len(out), rng):
                if datum.prompt not in self._seen:
                    self._seen.add(datum.prompt)
                    out.append(datum)
            if len(out) == count:
                return out
        # A nearly exhausted space: fill up with repeats; the environment counts them.
        return out + self.domain.generate(skill, subskill, count - len(out), rng)

    def planned_counts(
        self, plan: Action, observation: Observation, *, seed: int = 0
    ) -> dict[tuple[str, str], int]:
        """How many data ``plan`` asks of each (skill, subskill): what :meth:`generate` writes.

        An Open-Ended spec that names no skill asks for examples of the task as a whole: each
        of its data is drawn from the task's distribution, which for the built-in domains is
        every (skill, subskill) alike (their evaluation splits are balanced so), at random
        with ``seed`` and the iteration.
        """
        wanted: dict[tuple[str, str], int] = {}
        if isinstance(plan, OpenEndedAction):
            units = [(skill, sub) for skill, subs in self.catalogue.items() for sub in subs]
            task_rng = random.Random(f"task:{seed}:{observation.iteration}")
            for spec in plan.specs:
                if spec.skill is None:
                    for unit in task_rng.choices(units, k=spec.count) if units else []:
                        wanted[unit] = wanted.get(unit, 0) + 1
                    continue
                subs = [spec.subskill] if spec.subskill else self.catalogue.get(spec.skill, [])
                for sub, n in uniform(subs, spec.count).items():
                    wanted[(spec.skill, sub)] = wanted.get((spec.skill, sub), 0) + n
        elif isinstance(plan, SkillListAction):
            for skill, request in plan.requests.items():
                known = self.catalogue.get(skill, [])
                subs = [t for t in request.targets if t in known] or known
                for sub, n in uniform(subs, request.count).items():
                    wanted[(skill, sub)] = n
        elif isinstance(plan, SkillTreeAction):
            if not isinstance(observation, SkillTreeObservation):
                raise TypeError("a Skill-Tree plan needs a Skill-Tree observation")
            forest, _ = apply_tree_action(observation.forest, plan)
            for node in forest.skills.values():
                for leaf in node.subskills.values():
                    wanted[(node.name, leaf.name)] = leaf.allocation
        return wanted
