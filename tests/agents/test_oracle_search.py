from __future__ import annotations

import random
from typing import Any

import pytest

from dataenvgym.agents.oracle import OracleConfig, make_oracle
from dataenvgym.agents.oracle_search import (
    counts_of,
    elite_mean,
    logits_of,
    sample_allocations,
    top_k_allocation,
)
from dataenvgym.errors import ConfigError
from dataenvgym.registry import make_env

UNITS = ["a/x", "a/y", "b/z", "b/w"]


def test_logits_round_trip_to_the_same_allocation() -> None:
    counts = {"a/x": 50, "a/y": 30, "b/z": 15, "b/w": 5}
    assert counts_of(logits_of(counts, UNITS), UNITS, 100) == counts
    # Rescaled to another budget, shares are kept and the sum is exact.
    assert counts_of(logits_of(counts, UNITS), UNITS, 37) == {
        "a/x": 18,
        "a/y": 11,
        "b/z": 6,
        "b/w": 2,
    }
    # A unit given nothing keeps a tiny share, not -inf.
    assert counts_of(logits_of({"a/x": 10}, UNITS), UNITS, 10) == {
        "a/x": 10,
        "a/y": 0,
        "b/z": 0,
        "b/w": 0,
    }


def test_the_elite_mean_lies_between_its_members() -> None:
    centre = elite_mean([{"a/x": 90, "a/y": 10}, {"a/x": 10, "a/y": 90}], ["a/x", "a/y"])
    assert centre[0] == pytest.approx(centre[1])
    assert counts_of(centre, ["a/x", "a/y"], 100) == {"a/x": 50, "a/y": 50}


@pytest.mark.parametrize("budget", [5, 7, 384])
def test_samples_spend_exactly_the_budget_and_are_new(budget: int) -> None:
    tried = [dict.fromkeys(UNITS, 1) | {"a/x": budget - 3}]
    drawn = sample_allocations(
        logits_of(tried[0], UNITS),
        UNITS,
        budget,
        population=6,
        sigma=3.0,
        rng=random.Random(0),
        exclude=tried,
    )
    assert drawn and all(sum(c.values()) == budget for c in drawn)
    assert all(min(c.values()) >= 0 for c in drawn)
    assert tried[0] not in drawn
    assert len({tuple(sorted(c.items())) for c in drawn}) == len(drawn)
    # No spread: every draw is the centre, which was tried already, so nothing new comes back.
    same = sample_allocations(
        logits_of(tried[0], UNITS),
        UNITS,
        budget,
        population=3,
        sigma=0.0,
        rng=random.Random(0),
        exclude=tried,
    )
    assert same == []


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_the_search_never_spends_more_than_the_budget(env_name: str, tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs(env_name))
    config = OracleConfig(private_per_subskill=30, search_population=3, search_generations=2)
    agent = make_oracle(env.domain, config)
    observation, _ = env.reset(seed=3)
    agent.reset(seed=3)
    agent.attach_env(env)
    action = agent.act(observation)
    look = agent.oracle.log[-1]
    searched = [c for c in look.candidates if c.label.startswith("search")]
    assert {c.label.split(".")[0] for c in searched} == {"search 1", "search 2"}
    budget = observation.budget_per_iteration
    # Every candidate, fixed or searched, is exactly the step's budget; what is submitted
    # is the chosen one's data, never more than the budget.
    assert all(sum(c.counts.values()) == budget for c in look.candidates)
    assert all(len(c.data) <= budget for c in look.candidates)
    assert len(action.data) <= budget
    assert look.chosen.private_accuracy == max(c.private_accuracy for c in look.candidates)
    counts = [tuple(sorted(c.counts.items())) for c in look.candidates]
    assert len(set(counts)) == len(counts)  # nothing tried twice


@pytest.mark.parametrize("budget", [10, 37, 384])
def test_top_k_feeds_the_k_largest_gains_over_a_floor(budget: int) -> None:
    gains = {"a/x": 0.30, "a/y": 0.10, "b/z": 0.20, "b/w": 0.0}
    counts = top_k_allocation(gains, budget, 2, 0.2)
    assert sum(counts.values()) == budget
    # The two largest gains share what the floor leaves, equally (up to rounding).
    assert abs(counts["a/x"] - counts["b/z"]) <= 1
    assert counts["a/x"] > counts["a/y"] and counts["b/z"] > counts["a/y"]
    # The others keep the floor only, whatever their gain.
    assert abs(counts["a/y"] - counts["b/w"]) <= 1
    assert counts["a/y"] == pytest.approx(0.2 * budget / 4, abs=1)


def test_top_k_never_feeds_a_unit_that_did_not_gain() -> None:
    gains = {"a/x": 0.30, "a/y": 0.0, "b/z": -0.2, "b/w": 0.001}
    counts = top_k_allocation(gains, 100, 3, 0.0)
    assert counts == {"a/x": 100, "a/y": 0, "b/z": 0, "b/w": 0}
    # Nothing gained: uniform, like every other oracle candidate in that case.
    assert top_k_allocation(dict.fromkeys(UNITS, 0.0), 100, 2, 0.1) == dict.fromkeys(UNITS, 25)
    with pytest.raises(ValueError, match="at least 1"):
        top_k_allocation(gains, 100, 0, 0.1)


def test_the_oracle_tries_each_concentrated_candidate(tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs("skill-tree"))
    agent = make_oracle(env.domain, OracleConfig(private_per_subskill=30, concentrate=(1, 2)))
    observation, _ = env.reset(seed=4)
    agent.reset(seed=4)
    agent.attach_env(env)
    action = agent.act(observation)
    look = agent.oracle.log[-1]
    tried = {c.label: c for c in look.candidates}
    budget = observation.budget_per_iteration
    assert len(action.data) <= budget
    for k in (1, 2):
        expected = top_k_allocation(look.gains, budget, k, 0.1)
        assert sum(expected.values()) == budget
        # Tried under its own label, or already tried as an earlier candidate (never twice).
        if f"top {k}" in tried:
            assert tried[f"top {k}"].counts == expected
        else:
            assert any(c.counts == expected for c in look.candidates)


@pytest.mark.parametrize(
    "bad",
    [
        {"horizon": 0},
        {"search_population": -1},
        {"elite": 0},
        {"search_sigma": -0.1},
        {"concentrate": (0,)},
        {"concentrate_floor": 1.5},
    ],
)
def test_a_config_that_cannot_search_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="OracleConfig"):
        OracleConfig(**bad)
