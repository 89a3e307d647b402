from __future__ import annotations

from typing import Any

from dataenvgym.agents.allocation import AllocationConfig
from dataenvgym.agents.policies import (
    FAIR_TRIAL,
    OpenEndedStatePolicy,
    SkillListStatePolicy,
    SkillTreeStatePolicy,
)
from dataenvgym.registry import make_env
from dataenvgym.types import (
    Skill,
    SkillForest,
    SkillListObservation,
    SkillNode,
    SkillTreeAction,
    SkillTreeObservation,
    SubskillNode,
)

CATALOGUE = [
    Skill(name="add", subskills={"easy": "", "medium": "", "hard": ""}),
]


def _tree_observation(histories: dict[str, list[float]]) -> SkillTreeObservation:
    subskills = {
        name: SubskillNode(
            name=name,
            allocation=30,
            val_accuracy=hist[-1],
            val_partial=min(1.0, hist[-1] + 0.2),
            history=hist,
            partial_history=[min(1.0, a + 0.2) for a in hist],
            total_data=30 * (len(hist) - 1),
        )
        for name, hist in histories.items()
    }
    forest = SkillForest(skills={"add": SkillNode(name="add", subskills=subskills)})
    return SkillTreeObservation(
        iteration=len(next(iter(histories.values()))) - 1,
        budget_per_iteration=90,
        budget_left=900,
        val_accuracy=0.5,
        val_partial=0.6,
        forest=forest,
    )


def test_tree_policy_keeps_mastered_subskills_fed_and_prunes_stuck_ones() -> None:
    policy = SkillTreeStatePolicy(CATALOGUE)
    observation = _tree_observation(
        {
            "easy": [0.97, 0.98, 0.99],  # mastered: maintenance, not pruned
            "medium": [0.2, 0.4, 0.6],  # learning: most of the budget
            "hard": [0.0, 0.0, 0.0],  # fed twice without moving: pruned
        }
    )
    action = policy.plan(observation)
    assert isinstance(action, SkillTreeAction)
    allocation = action.exploit["add"]
    assert allocation["hard"] == 0
    assert 0 < allocation["easy"] < allocation["medium"]
    assert sum(allocation.values()) == 90


def test_skill_list_errors_are_drawn_across_subskills(tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs("skill-list", env_config={"errors_per_skill": 8}))
    obs, _ = env.reset(seed=0)
    assert isinstance(obs, SkillListObservation)
    for state in obs.skills.values():
        failing = {
            e.instance.subskill
            for e in env.val_result.instances
            if e.instance.skill == state.name and not e.correct
        }
        shown = {e.instance.subskill for e in state.errors}
        assert len(state.errors) <= 8 and shown <= failing
        if len(failing) >= 3 and len(state.errors) == 8:
            # the first errors in validation order would all come from one subskill
            assert len(shown) >= 2


def test_tree_policy_refeeds_a_subskill_being_forgotten() -> None:
    policy = SkillTreeStatePolicy(CATALOGUE)
    observation = _tree_observation(
        {
            "easy": [0.99, 0.85, 0.7],  # was mastered, falling: not pruned, fed back
            "medium": [0.3, 0.33, 0.36],  # rising slowly
            "hard": [0.0, 0.0, 0.0],
        }
    )
    action = policy.plan(observation)
    assert isinstance(action, SkillTreeAction)
    allocation = action.exploit["add"]
    assert allocation["hard"] == 0
    assert allocation["easy"] > allocation["medium"] > 0


def test_tree_policy_feeds_a_plateaued_subskill_that_fits_its_own_data() -> None:
    observation = _tree_observation(
        {"easy": [0.9, 0.9], "medium": [0.05, 0.05], "hard": [0.05, 0.05]}
    )
    forest = observation.forest.skills["add"].subskills
    forest["medium"].data_accuracy = 1.0  # the student fits its medium data ...
    forest["hard"].data_accuracy = 0.0  # ... and none of its hard data
    action = SkillTreeStatePolicy(CATALOGUE).plan(observation)
    assert isinstance(action, SkillTreeAction)
    allocation = action.exploit["add"]
    assert allocation["medium"] > allocation["hard"]
    frozen = SkillTreeStatePolicy(CATALOGUE, AllocationConfig(variance_weight=0.0))
    blind = frozen.plan(observation)
    assert isinstance(blind, SkillTreeAction)
    assert blind.exploit["add"]["medium"] == blind.exploit["add"]["hard"]


def test_open_ended_gives_a_fair_trial_and_the_others_keep_their_rule() -> None:
    # Skill-Tree's first step explores every subskill already, Skill-List's units are whole
    # skills: their board runs stay valid.
    assert SkillTreeStatePolicy(CATALOGUE).config == AllocationConfig()
    assert SkillListStatePolicy(CATALOGUE).config == AllocationConfig()
    assert OpenEndedStatePolicy(CATALOGUE).config == FAIR_TRIAL
    assert FAIR_TRIAL.explore_gate is not None and FAIR_TRIAL.tried_after_fair_shares > 0
    # Knobs given explicitly win (the oracle's frozen candidate passes its own).
    assert OpenEndedStatePolicy(CATALOGUE, AllocationConfig()).config == AllocationConfig()
