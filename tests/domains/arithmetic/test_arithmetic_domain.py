from __future__ import annotations

import random

import pytest

from dataenvgym.domains.arithmetic import generators as g
from dataenvgym.domains.arithmetic.domain import (
    CATALOGUE,
    ArithmeticConfig,
    ArithmeticDomain,
    evaluate_prompt,
    parse_int,
    partial_credit,
)
from dataenvgym.protocols import Domain, ProceduralDomain
from dataenvgym.types import TrainingDatum


def test_domain_satisfies_protocols() -> None:
    domain = ArithmeticDomain()
    assert isinstance(domain, Domain)
    assert isinstance(domain, ProceduralDomain)


def test_every_generator_meets_its_subskill_condition() -> None:
    rng = random.Random(0)
    for _ in range(200):
        _a, _b = g._three_digit_pair(rng, lambda a, b: True)
        p = g.add_no_carry(rng)
        assert evaluate_prompt(p.prompt) == p.value
        x, y = (int(t) for t in p.prompt[:-1].split("+"))
        assert all(dx + dy < 10 for dx, dy in zip(g._digits(x), g._digits(y), strict=True))
        c = g.add_carry_chain(rng)
        x, y = (int(t) for t in c.prompt[:-1].split("+"))
        assert x % 10 + y % 10 >= 10
        n = g.sub_negative(rng)
        assert n.value < 0
        bc = g.sub_borrow_chain(rng)
        x, y = (int(t) for t in bc.prompt[:-1].split("-"))
        assert x % 10 < y % 10 and x > y


def test_splits_are_balanced_disjoint_and_seeded() -> None:
    domain = ArithmeticDomain(ArithmeticConfig(val_per_subskill=20, test_per_subskill=15))
    val, test = domain.splits(seed=3)
    n_subskills = sum(len(s) for s in CATALOGUE.values())
    assert len(val) == 20 * n_subskills and len(test) == 15 * n_subskills
    assert not {i.prompt for i in val} & {i.prompt for i in test}
    assert len({i.prompt for i in val}) == len(val)
    again, _ = domain.splits(seed=3)
    other, _ = domain.splits(seed=4)
    assert [i.prompt for i in again] == [i.prompt for i in val]
    assert [i.prompt for i in other] != [i.prompt for i in val]
    for inst in val:
        assert evaluate_prompt(inst.prompt) == parse_int(inst.answer)


def test_score_exact_and_partial_credit() -> None:
    domain = ArithmeticDomain()
    val, _ = domain.splits(0)
    inst = val[0]
    assert domain.score(inst, inst.answer).correct
    assert domain.score(inst, str(parse_int(inst.answer))).correct  # padding is irrelevant
    assert not domain.score(inst, "garbage").correct
    assert domain.score(inst, "garbage").partial == 0.0
    # padding earns nothing, and the sign counts only where a number is negative
    assert partial_credit(578, 0) == 0.0
    assert partial_credit(578, 570) == pytest.approx(2 / 3)
    assert partial_credit(3, 5) == 0.0
    assert partial_credit(-22, 22) == pytest.approx(2 / 3)
    assert partial_credit(578, 578) == 1.0


def test_verify_recomputes_the_answer() -> None:
    domain = ArithmeticDomain()
    good = domain.generate("subtraction", "negative", 5, random.Random(1))
    assert all(domain.verify(d) is None for d in good)
    wrong = good[0].model_copy(update={"response": "0001"})
    assert "!=" in (domain.verify(wrong) or "")
    nonsense = TrainingDatum(id="x", domain="arithmetic", prompt="import os=", response="1")
    assert domain.verify(nonsense) is not None
    unsafe = TrainingDatum(id="y", domain="arithmetic", prompt="(1).real=", response="1")
    assert domain.verify(unsafe) is not None


def test_unknown_subskill_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="addition/carry"):
        ArithmeticDomain().generate("addition", "nope", 1, random.Random(0))
