"""Every built-in text domain's generator rarely draws a held-out prompt."""

from __future__ import annotations

import random

import pytest

from dataenvgym.protocols import ProceduralDomain
from dataenvgym.registry import make_domain


@pytest.mark.parametrize("name", ["arithmetic", "code", "tool-use"])
def test_held_out_prompts_are_a_small_share_of_every_subskills_draws(name: str) -> None:
    # The environment drops data whose prompt is held out; with the default splits a
    # subskill's generator must draw those prompts rarely, or what a teacher asks for is not
    # what its student trains on, by an amount that differs from unit to unit.
    domain = make_domain(name)
    assert isinstance(domain, ProceduralDomain)
    val, test = domain.splits(3)
    held_out = {item.prompt for item in [*val, *test]}
    rng = random.Random(0)
    for skill in domain.skills():
        for subskill in skill.subskills:
            prompts = [d.prompt for d in domain.generate(skill.name, subskill, 400, rng)]
            share = sum(p in held_out for p in prompts) / len(prompts)
            assert share <= 0.1, f"{name} {skill.name}/{subskill}: {share:.0%} held out"
