from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from dataenvgym.agents.oracle_draw import counts_to_action, draw_as_an_engine, private_items
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.registry import make_env
from dataenvgym.types import (
    OpenEndedAction,
    SkillListAction,
    SkillTreeAction,
    subskill_key,
)


def test_private_items_are_fresh_and_never_evaluation_items() -> None:
    domain = ArithmeticDomain()
    val, test = domain.splits(0)
    excluded = {i.prompt for i in [*val, *test]}
    units = ["multiplication/two_digit", "addition/carry"]  # two_digit: a small space
    items = private_items(domain, units, 150, seed=0, excluded=excluded)
    assert not {i.prompt for i in items} & excluded
    assert Counter(subskill_key(i.skill, i.subskill) for i in items) == dict.fromkeys(units, 150)
    assert len({i.prompt for i in items}) == len(items)
    again = private_items(domain, units, 150, seed=0, excluded=excluded)
    assert [i.prompt for i in again] == [i.prompt for i in items]  # its own seed: reproducible


def test_the_oracle_loses_what_the_contamination_guard_drops_as_an_engine_does() -> None:
    domain = ArithmeticDomain()
    val, test = domain.splits(0)
    evaluation = {i.prompt for i in [*val, *test]}
    counts = {"multiplication/two_digit": 300, "addition/carry": 20}  # two_digit: a small space
    own = {d.prompt for d in domain.generate("addition", "carry", 20, random.Random(1))}
    drawn, kept = draw_as_an_engine(domain, counts, own, evaluation, salt="s")
    # The full count is written, refilled against its own earlier data only ...
    assert Counter(subskill_key(d.skill, d.subskill) for d in drawn) == counts
    assert not {d.prompt for d in drawn} & own
    # ... and the copies of evaluation prompts are lost, not replaced by fresh ones.
    assert kept == [d for d in drawn if d.prompt not in evaluation]
    assert len(kept) < len(drawn)


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_counts_become_the_action_of_each_environment(env_name: str, tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs(env_name))
    observation, _ = env.reset(seed=0)
    catalogue = env.domain.skills()
    units = [subskill_key(s.name, sub) for s in catalogue for sub in s.subskills]
    counts = {key: 3 * index for index, key in enumerate(units)}  # the first one gets 0
    action = counts_to_action(counts, observation, notes="why")
    assert action.notes == "why"
    if isinstance(action, OpenEndedAction):
        asked = {subskill_key(s.skill or "", s.subskill or ""): s.count for s in action.specs}
        assert asked == {k: n for k, n in counts.items() if n > 0}
    elif isinstance(action, SkillListAction):
        for skill in catalogue:
            own = {s: counts[subskill_key(skill.name, s)] for s in skill.subskills}
            request = action.requests[skill.name]
            assert request.count == sum(own.values())
            assert request.targets == [s for s, n in own.items() if n > 0]
    else:
        assert isinstance(action, SkillTreeAction)
        for key, n in counts.items():
            name, _, subskill = key.partition("/")
            node = observation.forest.skills[name]
            proposed = {new.name: new.allocation for new in action.explore.get(name, [])}
            if subskill in node.subskills:  # known: re-allocated, 0 prunes it
                assert action.exploit[name][subskill] == n
                assert subskill not in proposed
            elif n > 0:  # unknown: explored with its count
                assert proposed[subskill] == n
            else:
                assert subskill not in proposed
