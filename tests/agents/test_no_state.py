from __future__ import annotations

from collections import Counter

from dataenvgym.agents.policies import TASK_SPEC, NoStatePolicy
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain
from dataenvgym.registry import make_agent
from dataenvgym.types import OpenEndedAction, OpenEndedObservation


def _observation(iteration: int = 0, budget: int = 300) -> OpenEndedObservation:
    return OpenEndedObservation(
        iteration=iteration,
        budget_per_iteration=budget,
        budget_left=10 * budget,
        val_accuracy=0.3,
        val_partial=0.5,
        evaluated=[],
    )


def test_open_ended_baseline_asks_for_the_task_not_for_skills() -> None:
    domain = ArithmeticDomain(ArithmeticConfig())
    plan = NoStatePolicy(domain.skills()).plan(_observation())
    assert isinstance(plan, OpenEndedAction)
    assert [(s.skill, s.subskill, s.count, s.description) for s in plan.specs] == [
        (None, None, 300, TASK_SPEC)
    ]


def test_the_engine_draws_task_data_from_every_subskill_at_random_by_seed() -> None:
    domain = ArithmeticDomain(ArithmeticConfig())
    units = {(s.name, sub) for s in domain.skills() for sub in s.subskills}
    plan = NoStatePolicy(domain.skills()).plan(_observation())
    engine = ProceduralEngine(domain)
    data = engine.generate(plan, _observation(), seed=0)
    assert len(data) == 300
    drawn = Counter((d.skill, d.subskill) for d in data)
    assert set(drawn) == units  # 300 draws over the catalogue reach every subskill
    assert len(set(drawn.values())) > 1  # at random, not the uniform plan
    again = ProceduralEngine(domain).planned_counts(plan, _observation(), seed=0)
    other = ProceduralEngine(domain).planned_counts(plan, _observation(), seed=1)
    assert again == dict(drawn) and other != again


def test_the_baseline_is_versioned_where_its_behaviour_changed() -> None:
    domain = ArithmeticDomain(ArithmeticConfig())
    assert make_agent("no-state", "open-ended", domain).revision == 2
    assert make_agent("no-state", "skill-tree", domain).revision is None
