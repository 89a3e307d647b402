"""The learned teacher's policy: a unit's share of the budget ∝ softmax(θ · features) plus a
uniform floor.

The policies here are the with-state policies of :mod:`dataenvgym.agents.policies` with one
method changed, the allocation: they read the same observation, keep the same per-unit
history (:class:`~dataenvgym.agents.allocation.UnitHistory`) and build the same actions
(Skill-List requests aimed at the subskills the student errs on, Skill-Tree explore then
exploit with pruning of stuck subskills, Open-Ended specs seeded with the student's errors).
Only how the budget is split over the units is parameterised, so that what the trainer
learns is a choice of data and nothing else.

Every feature is in [0, 1] or [-1, 1], so that one scale of θ fits them all:

* ``headroom``: 1 − exact match; ``partial``: partial credit;
* ``reach`` and ``zpd`` (:func:`~dataenvgym.agents.allocation.reach`, ``zpd``, the latter
  scaled by 2.5 to reach about 1);
* ``progress``: how far the unit moved over the last observation, up or down, and ``rise``,
  the signed move of exact match (×5, clipped): learning and forgetting look alike in the
  first, not in the second;
* ``untried``: 1 until the unit was observed after getting data;
* ``mastered``: 1 from the with-state rule's mastery threshold on;
* ``variance``: headroom × (fit on own data − validation accuracy)⁺, where the state says
  the fit (Skill-Tree), else 0;
* ``data``: the data the unit got so far, in fair shares per step (÷3, clipped);
* ``rule``: the with-state rule's own score, as ``ln(score)/ln(10⁶)`` clipped to
  [-1, 0]. With θ = ``rule``: ln(10⁶) ≈ 13.8 alone, softmax gives shares ∝ the rule's
  scores (a score of 0 counts as 10⁻⁶): the with-state allocation without its cap.

θ = 0 gives every unit the same share: the no-state split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dataenvgym.agents.allocation import (
    AllocationConfig,
    UnitHistory,
    largest_remainder,
    reach,
    softmax,
    unit_scores,
    variance_gap,
    zpd,
)
from dataenvgym.agents.policies import (
    OpenEndedStatePolicy,
    SkillListStatePolicy,
    SkillTreeStatePolicy,
)
from dataenvgym.protocols import Policy
from dataenvgym.types import NewSubskill, Skill, SkillTreeAction, SkillTreeObservation, subskill_key

#: The with-state rule's knobs, for the ``rule`` and ``mastered`` features.
DEFAULT_ALLOCATION = AllocationConfig()

#: The features of a unit, in the order of θ.
FEATURES: tuple[str, ...] = (
    "headroom",
    "partial",
    "reach",
    "zpd",
    "progress",
    "rise",
    "untried",
    "mastered",
    "variance",
    "data",
    "rule",
)

#: The least rule score told apart from 0; the rule feature maps [RULE_EPS, 1] onto [-1, 0].
RULE_EPS = 1e-6
#: The weight of ``rule`` at which softmax reproduces the rule's proportions.
RULE_WEIGHT = -math.log(RULE_EPS)


class LearnedParams(BaseModel):
    """The parameters of the learned allocation.

    Attributes:
        theta: One weight per feature of :data:`FEATURES` (missing features weigh 0).
        floor: Share of the budget spread uniformly over the units, against forgetting.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    theta: dict[str, float] = Field(default_factory=dict)
    floor: float = Field(default=0.2, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _known_features(self) -> LearnedParams:
        unknown = sorted(set(self.theta) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown features {unknown}; the features are {list(FEATURES)}")
        return self

    @classmethod
    def from_vector(cls, vector: Sequence[float], floor: float = 0.2) -> LearnedParams:
        """Parameters from a θ vector in the order of :data:`FEATURES`."""
        if len(vector) != len(FEATURES):
            raise ValueError(f"θ has {len(FEATURES)} weights, got {len(vector)}")
        return cls(theta={k: float(v) for k, v in zip(FEATURES, vector, strict=True)}, floor=floor)

    def vector(self) -> list[float]:
        """θ in the order of :data:`FEATURES`."""
        return [self.theta.get(k, 0.0) for k in FEATURES]


def unit_features(
    history: UnitHistory, rule_score: float, fair_share: float, config: AllocationConfig
) -> dict[str, float]:
    """The features of one unit (see the module docstring), each in [-1, 1]."""
    accuracy, partial = history.accuracy[-1], history.partial[-1]
    tried = history.tried(config.tried_after_fair_shares * fair_share)
    steps = max(len(history.data), 1)
    rise = history.accuracy[-1] - history.accuracy[-2] if len(history.accuracy) >= 2 else 0.0
    return {
        "headroom": 1.0 - accuracy,
        "partial": partial,
        "reach": reach(accuracy, partial),
        "zpd": min(2.5 * zpd(accuracy, partial), 1.0),
        "progress": min(5.0 * history.progress(), 1.0) if tried else 0.0,
        "rise": max(-1.0, min(5.0 * rise, 1.0)) if tried else 0.0,
        "untried": 0.0 if tried else 1.0,
        "mastered": 1.0 if accuracy >= config.mastery else 0.0,
        "variance": variance_gap(accuracy, history.fit) if history.fit is not None else 0.0,
        "data": min(sum(history.data) / (3.0 * fair_share * steps), 1.0) if fair_share else 0.0,
        "rule": max(-1.0, math.log(max(rule_score, RULE_EPS)) / RULE_WEIGHT),
    }


def learned_shares(
    histories: Mapping[str, UnitHistory],
    params: LearnedParams,
    fair_share: float,
    config: AllocationConfig = DEFAULT_ALLOCATION,
) -> dict[str, float]:
    """Each unit's share of the budget (summing to 1): ``floor / n + (1 − floor) ·
    softmax(θ · features)``."""
    keys = sorted(histories)
    if not keys:
        return {}
    rules = unit_scores(histories, config, fair_share=fair_share)
    logits = {
        k: sum(
            params.theta.get(name, 0.0) * value
            for name, value in unit_features(histories[k], rules[k], fair_share, config).items()
        )
        for k in keys
    }
    shares = softmax(logits)  # stable for large θ
    return {k: params.floor / len(keys) + (1 - params.floor) * shares[k] for k in keys}


def learned_allocate(
    histories: Mapping[str, UnitHistory],
    budget: int,
    params: LearnedParams,
    config: AllocationConfig = DEFAULT_ALLOCATION,
) -> dict[str, int]:
    """Split ``budget`` over the units: integers from :func:`learned_shares` summing to
    exactly ``budget`` (largest remainder)."""
    if not histories:
        return {}
    shares = learned_shares(histories, params, budget / len(histories), config)
    return largest_remainder(shares, budget)


class _Learned:
    """Mixin: a with-state policy whose allocation is :func:`learned_allocate`."""

    config: AllocationConfig
    params: LearnedParams

    def _allocate(self, histories: dict[str, UnitHistory], budget: int) -> dict[str, int]:
        return learned_allocate(histories, budget, self.params, self.config)


class LearnedSkillListPolicy(_Learned, SkillListStatePolicy):
    """Skill-List: units are skills (see :class:`SkillListStatePolicy`)."""

    def __init__(self, catalogue: Sequence[Skill], params: LearnedParams) -> None:
        super().__init__(catalogue)
        self.params = params


class LearnedOpenEndedPolicy(_Learned, OpenEndedStatePolicy):
    """Open-Ended: units are the subskills tallied from the answers (see
    :class:`OpenEndedStatePolicy`)."""

    def __init__(self, catalogue: Sequence[Skill], params: LearnedParams) -> None:
        super().__init__(catalogue)
        self.params = params


class LearnedSkillTreePolicy(_Learned, SkillTreeStatePolicy):
    """Skill-Tree: units are subskills (see :class:`SkillTreeStatePolicy`); the first step
    also splits by the learned rule, each subskill seen through its skill's accuracy."""

    def __init__(self, catalogue: Sequence[Skill], params: LearnedParams) -> None:
        super().__init__(catalogue)
        self.params = params

    def _explore(self, observation: SkillTreeObservation) -> SkillTreeAction:
        forest = observation.forest
        skills = [s for s in self.catalogue if s.name in forest.skills]
        histories = {
            subskill_key(skill.name, sub): UnitHistory(
                accuracy=[forest.skills[skill.name].accuracy],
                partial=[forest.skills[skill.name].partial],
            )
            for skill in skills
            for sub in skill.subskills
        }
        counts = self._allocate(histories, observation.budget_per_iteration)
        explore = {
            skill.name: [
                NewSubskill(
                    name=sub, description=desc, allocation=counts[subskill_key(skill.name, sub)]
                )
                for sub, desc in skill.subskills.items()
            ]
            for skill in skills
        }
        return SkillTreeAction(explore=explore, notes=f"explore {counts}")


#: The learned policy of each environment, by its ``env_name``.
LEARNED_POLICIES: dict[str, Callable[[Sequence[Skill], LearnedParams], Policy]] = {
    "open-ended": LearnedOpenEndedPolicy,
    "skill-list": LearnedSkillListPolicy,
    "skill-tree": LearnedSkillTreePolicy,
}
