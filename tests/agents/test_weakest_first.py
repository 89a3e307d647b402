from __future__ import annotations

import pytest

from dataenvgym.agents.policies import WeakestFirstPolicy, weakest_first_counts
from dataenvgym.registry import make_agent, make_env
from dataenvgym.types import (
    Skill,
    SkillForest,
    SkillListAction,
    SkillListObservation,
    SkillNode,
    SkillState,
    SkillTreeAction,
    SkillTreeObservation,
    SubskillNode,
)

CATALOGUE = [
    Skill(name="add", subskills={"easy": "", "hard": ""}),
    Skill(name="mul", subskills={"small": ""}),
]


def test_counts_follow_the_squared_headroom_and_spend_the_budget() -> None:
    counts = weakest_first_counts({"a": 0.0, "b": 0.5, "c": 1.0}, 100)
    assert sum(counts.values()) == 100
    assert counts["c"] == 0
    # (1 - 0)² : (1 - 0.5)² = 4 : 1
    assert counts == {"a": 80, "b": 20, "c": 0}


def test_every_unit_mastered_gives_uniform_data() -> None:
    assert weakest_first_counts({"a": 1.0, "b": 1.0}, 10) == {"a": 5, "b": 5}


def test_skill_list_plan_feeds_the_weakest_skill_most() -> None:
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
    plan = WeakestFirstPolicy(CATALOGUE).plan(observation)
    assert isinstance(plan, SkillListAction)
    counts = {k: r.count for k, r in plan.requests.items()}
    assert sum(counts.values()) == 90
    assert counts["mul"] > 60 * counts["add"]  # 0.81 : 0.01


def test_skill_tree_plan_explores_then_reads_each_subskill() -> None:
    policy = WeakestFirstPolicy(CATALOGUE)
    first = SkillTreeObservation(
        iteration=0,
        budget_per_iteration=60,
        budget_left=600,
        val_accuracy=0.5,
        val_partial=0.6,
        forest=SkillForest(
            skills={
                "add": SkillNode(name="add", accuracy=0.5),
                "mul": SkillNode(name="mul", accuracy=0.0),
            }
        ),
    )
    plan = policy.plan(first)
    assert isinstance(plan, SkillTreeAction)
    explored = {(s, n.name): n.allocation for s, subs in plan.explore.items() for n in subs}
    assert sum(explored.values()) == 60
    assert explored[("mul", "small")] == 40 and explored[("add", "easy")] == 10

    def leaf(name: str, accuracy: float) -> SubskillNode:
        return SubskillNode(name=name, allocation=20, val_accuracy=accuracy, history=[accuracy])

    later = first.model_copy(
        update={
            "iteration": 1,
            "forest": SkillForest(
                skills={
                    "add": SkillNode(
                        name="add",
                        subskills={"easy": leaf("easy", 1.0), "hard": leaf("hard", 0.0)},
                    ),
                    "mul": SkillNode(name="mul", subskills={"small": leaf("small", 0.0)}),
                }
            ),
        }
    )
    plan = policy.plan(later)
    assert isinstance(plan, SkillTreeAction)
    assert plan.exploit == {"add": {"easy": 0, "hard": 30}, "mul": {"small": 30}}


@pytest.mark.parametrize("env", ["open-ended", "skill-list", "skill-tree"])
def test_the_built_in_agent_plays_a_step_within_budget(
    env: str, tiny_kwargs, first_plan_total
) -> None:
    teacher_env = make_env(**tiny_kwargs(env))
    agent = make_agent("weakest-first", env, teacher_env.domain)
    assert agent.revision is not None
    agent.reset(seed=0)
    observation, _ = teacher_env.reset(seed=0)
    action = agent.act(observation)
    budget = observation.budget_per_iteration
    assert len(action.data) == budget and first_plan_total(action) == budget
