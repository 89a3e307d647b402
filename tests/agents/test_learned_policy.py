from __future__ import annotations

import pytest

from dataenvgym.agents.allocation import AllocationConfig, UnitHistory, allocate
from dataenvgym.agents.learned.policy import (
    FEATURES,
    RULE_WEIGHT,
    LearnedParams,
    LearnedSkillListPolicy,
    LearnedSkillTreePolicy,
    learned_allocate,
    learned_shares,
)
from dataenvgym.types import (
    Skill,
    SkillForest,
    SkillListAction,
    SkillListObservation,
    SkillNode,
    SkillState,
    SkillTreeAction,
    SkillTreeObservation,
)

CATALOGUE = [
    Skill(name="add", subskills={"easy": "", "hard": ""}),
    Skill(name="mul", subskills={"small": ""}),
]


def _history(accuracy: list[float], data: list[int], partial: float = 0.5) -> UnitHistory:
    return UnitHistory(accuracy=accuracy, partial=[partial] * len(accuracy), data=data)


HISTORIES = {
    "a": _history([0.2, 0.4], [30]),  # learning
    "b": _history([0.5, 0.5], [30]),  # flat
    "c": _history([0.97, 0.98], [30]),  # mastered
    "d": _history([0.0, 0.0], [30], partial=0.1),  # out of reach
}


@pytest.mark.parametrize("budget", [1, 7, 100, 384])
def test_counts_spend_exactly_the_budget(budget: int) -> None:
    params = LearnedParams.from_vector([1.0, -2.0, 0.5, 3.0, 4.0, 1.0, 0.3, -3.0, 2.0, -1, 5])
    counts = learned_allocate(HISTORIES, budget, params)
    assert sum(counts.values()) == budget
    assert all(n >= 0 for n in counts.values())


def test_zero_theta_is_uniform() -> None:
    shares = learned_shares(HISTORIES, LearnedParams(), fair_share=25)
    assert shares == pytest.approx({k: 0.25 for k in HISTORIES})
    assert learned_allocate(HISTORIES, 100, LearnedParams()) == dict.fromkeys(HISTORIES, 25)


def test_the_floor_is_respected_however_peaked_theta_is() -> None:
    params = LearnedParams(theta={"progress": 50.0}, floor=0.2)
    shares = learned_shares(HISTORIES, params, fair_share=25)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert min(shares.values()) >= 0.2 / 4 - 1e-12
    assert shares["a"] == pytest.approx(0.05 + 0.8)  # all of the rest to the learning unit


@pytest.mark.parametrize(
    ("feature", "gains", "loses"),
    [("progress", "a", "b"), ("headroom", "d", "c"), ("mastered", "c", "a"), ("zpd", "b", "d")],
)
def test_a_positive_weight_moves_data_to_units_with_more_of_the_feature(
    feature: str, gains: str, loses: str
) -> None:
    uniform = learned_allocate(HISTORIES, 400, LearnedParams())
    counts = learned_allocate(HISTORIES, 400, LearnedParams(theta={feature: 2.0}))
    assert counts[gains] > uniform[gains]
    assert counts[loses] < uniform[loses]
    flipped = learned_allocate(HISTORIES, 400, LearnedParams(theta={feature: -2.0}))
    assert flipped[gains] < uniform[gains]


def test_the_rule_feature_reproduces_the_with_state_rule() -> None:
    config = AllocationConfig(max_fair_shares=None)
    params = LearnedParams(theta={"rule": RULE_WEIGHT}, floor=config.floor)
    learned = learned_allocate(HISTORIES, 1000, params, config)
    rule = allocate(HISTORIES, 1000, config)
    assert all(abs(learned[k] - rule[k]) <= 1 for k in HISTORIES), (learned, rule)


def test_unknown_features_and_wrong_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        LearnedParams(theta={"luck": 1.0})
    with pytest.raises(ValueError, match="weights"):
        LearnedParams.from_vector([1.0])
    assert LearnedParams.from_vector([0.0] * len(FEATURES)).vector() == [0.0] * len(FEATURES)


def test_skill_list_plan_spends_the_budget_on_skills() -> None:
    observation = SkillListObservation(
        iteration=1,
        budget_per_iteration=90,
        budget_left=900,
        val_accuracy=0.5,
        val_partial=0.6,
        skills={
            "add": SkillState(name="add", accuracy=0.9, partial=0.95, count=10),
            "mul": SkillState(name="mul", accuracy=0.1, partial=0.3, count=10),
        },
    )
    policy = LearnedSkillListPolicy(CATALOGUE, LearnedParams(theta={"headroom": 3.0}))
    plan = policy.plan(observation)
    assert isinstance(plan, SkillListAction)
    counts = {k: r.count for k, r in plan.requests.items()}
    assert sum(counts.values()) == 90
    assert counts["mul"] > counts["add"]


def test_skill_tree_first_step_explores_every_subskill_within_budget() -> None:
    observation = SkillTreeObservation(
        iteration=0,
        budget_per_iteration=60,
        budget_left=600,
        val_accuracy=0.5,
        val_partial=0.6,
        forest=SkillForest(
            skills={
                "add": SkillNode(name="add", accuracy=0.5, partial=0.7),
                "mul": SkillNode(name="mul", accuracy=0.0, partial=0.1),
            }
        ),
    )
    plan = LearnedSkillTreePolicy(CATALOGUE, LearnedParams()).plan(observation)
    assert isinstance(plan, SkillTreeAction)
    explored = {(s, n.name): n.allocation for s, subs in plan.explore.items() for n in subs}
    assert explored == {("add", "easy"): 20, ("add", "hard"): 20, ("mul", "small"): 20}
