from __future__ import annotations

from typing import Any

import pytest

from dataenvgym.agents.oracle import OracleConfig, make_oracle
from dataenvgym.agents.oracle_plans import EpisodeStart, reach_plan, roll_plan
from dataenvgym.errors import ConfigError
from dataenvgym.types import TrainingDatum, TrainStats


def test_a_reach_plan_feeds_what_moved_holds_what_is_known_and_drops_the_rest() -> None:
    before = {"a/moves": (0.2, 0.5), "a/known": (0.97, 0.99), "b/stuck": (0.0, 0.3)}
    after = {"a/moves": (0.6, 0.8), "a/known": (0.96, 0.98), "b/stuck": (0.01, 0.31)}
    kwargs: dict[str, Any] = dict(
        partial_weight=0.25, reach_gain=0.05, hold_above=0.5, hold_weight=0.5
    )
    weights = reach_plan(before, after, **kwargs)
    assert weights == {"a/moves": 1.0, "a/known": 0.5, "b/stuck": 0.0}
    # A gain in partial credit alone counts at its weight: 0.25 × 0.3 clears 0.05.
    crept = {**after, "b/stuck": (0.0, 0.6)}
    assert reach_plan(before, crept, **kwargs) == {"a/moves": 1.0, "a/known": 0.5, "b/stuck": 1.0}
    # Nothing in reach, or everything: no plan besides uniform.
    assert reach_plan(before, before, **kwargs) is None
    everything = {k: (a + 0.1, p) for k, (a, p) in before.items()}
    assert reach_plan(before, everything, **kwargs) is None


class _FakeSim:
    """Draws numbered prompts (never a taken one), keeps all but ``q3`` (as if it were an
    evaluation prompt), and 'trains' by counting."""

    def __init__(self) -> None:
        self.trained: list[tuple[int, int, int]] = []  # (iteration, new, accumulated)
        self.next = 0

    def draw(
        self, counts: dict[str, int], taken: set[str], *, salt: str
    ) -> tuple[list[TrainingDatum], list[TrainingDatum]]:
        data = []
        for key, count in counts.items():
            skill, _, sub = key.partition("/")
            while count:
                self.next += 1
                prompt = f"q{self.next}"
                if prompt in taken:
                    continue
                data.append(
                    TrainingDatum(
                        id=prompt,
                        domain="d",
                        prompt=prompt,
                        response="r",
                        skill=skill,
                        subskill=sub,
                    )
                )
                count -= 1
        kept = [d for d in data if d.prompt != "q3"]  # one evaluation prompt is dropped
        return data, kept

    def copy(self, student: Any) -> Any:
        return dict(student)

    def train(
        self,
        student: Any,
        new_data: list[TrainingDatum],
        accumulated: list[TrainingDatum],
        iteration: int,
    ) -> TrainStats:
        self.trained.append((iteration, len(new_data), len(accumulated)))
        student["steps"] = student.get("steps", 0) + 1
        return TrainStats(steps=1, examples_seen=len(new_data), final_loss=0.0, seconds=0.0)

    def score(self, student: Any) -> dict[str, tuple[float, float]]:
        return {"a/x": (student["steps"] / 10, 0.0), "b/y": (0.0, 0.0)}


def test_a_rolled_plan_spends_each_steps_budget_to_the_episodes_end() -> None:
    sim = _FakeSim()
    student: Any = {}
    start = EpisodeStart(
        student=student,
        accumulated=[],
        taken={"q1"},
        budget=5,
        first_iteration=2,
        last_iteration=4,
        salt="s",
    )
    plan = roll_plan(sim, "p", {"a/x": 1.0, "b/y": 0.0}, start)
    assert [s.counts for s in plan.steps] == [{"a/x": 5, "b/y": 0}] * 3
    assert all(len(s.data) == 5 for s in plan.steps)  # the whole budget, every step
    prompts = [d.prompt for s in plan.steps for d in s.data]
    assert len(set(prompts)) == len(prompts) and "q1" not in prompts
    # Each step trains what the environment keeps, on top of all kept so far.
    assert sim.trained == [(2, 4, 4), (3, 5, 9), (4, 5, 14)]
    assert plan.private_accuracy == pytest.approx((0.3 + 0.0) / 2)
    assert start.student == {}  # the episode's student is copied, never trained


def test_hold_weights_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="hold_weights"):
        OracleConfig(commit=True, hold_weights=(-0.5,))


def test_a_domain_chooses_whole_episode_plans_for_its_default_oracle() -> None:
    from dataenvgym.agents.oracle import default_oracle_config
    from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
    from dataenvgym.domains.code.domain import CodeDomain

    assert make_oracle(ArithmeticDomain()).oracle.config.commit
    assert not make_oracle(CodeDomain()).oracle.config.commit
    assert not default_oracle_config(object()).commit  # a plugin's domain that says nothing
    # An explicit configuration wins over the domain's.
    assert not make_oracle(ArithmeticDomain(), OracleConfig()).oracle.config.commit
