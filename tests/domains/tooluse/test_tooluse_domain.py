"""The built-in tool-use domain: queries, plans, two-part scoring, verification."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from dataenvgym.domains.tooluse.domain import (
    ToolUseConfig,
    ToolUseDomain,
    parse_query,
    plan_scores,
)
from dataenvgym.domains.tooluse.templates import CATALOGUE
from dataenvgym.protocols import ProceduralDomain
from dataenvgym.types import TrainingDatum

ALL = [
    (skill, sub, template)
    for skill, subs in CATALOGUE.items()
    for sub, (_, templates) in subs.items()
    for template in templates
]


@pytest.fixture(scope="module")
def domain() -> ToolUseDomain:
    return ToolUseDomain(ToolUseConfig(val_per_subskill=5, test_per_subskill=5))


@pytest.mark.parametrize(("skill", "subskill", "template"), ALL, ids=lambda v: str(v)[:30])
def test_queries_parse_back_to_their_gold_plans(
    skill: str, subskill: str, template: object
) -> None:
    from dataenvgym.domains.tooluse.templates import QueryTemplate
    from dataenvgym.domains.tooluse.tools import run_plan

    assert isinstance(template, QueryTemplate)
    rng = random.Random(0)
    for _ in range(20):
        prompt, plan = template.render(template.params(rng))
        parsed = parse_query(prompt)
        assert parsed is not None and (parsed.skill, parsed.subskill) == (skill, subskill)
        assert parsed.template.render(parsed.params) == (prompt, plan)
        tools, answer = run_plan(plan)
        assert answer is not None and 1 <= len(tools) <= 3


def test_protocol_mix_and_splits(domain: ToolUseDomain) -> None:
    assert isinstance(domain, ProceduralDomain)
    keys = {f"{s.name}/{sub}" for s in domain.skills() for sub in s.subskills}
    assert set(domain.pretraining_mix()) == keys and len(keys) == 16
    val, test = domain.splits(0)
    assert set(Counter((i.skill, i.subskill) for i in val).values()) == {5}
    assert not {i.prompt for i in val} & {i.prompt for i in test}
    assert all(i.metadata["result"] is not None for i in val)


def test_scoring_has_a_plan_part_and_an_answer_part(domain: ToolUseDomain) -> None:
    val, _ = domain.splits(0)
    item = next(i for i in val if i.subskill == "two_ops" and "times" in i.prompt.split(",")[0])
    a, b = item.answer.split("|")[0][4:-1].split(",")
    swapped = item.answer.replace(f"mul({a},{b})", f"mul({b},{a})")
    wrong_tools = f"add({a},{b})"
    assert domain.score(item, item.answer).correct
    assert domain.score(item, swapped).correct  # same tools, same answer
    half = domain.score(item, item.answer.replace(f"mul({a}", f"mul({int(a) + 1}"))
    assert not half.correct and half.partial == 0.5  # right tools, neither call right
    first_right = domain.score(item, item.answer.replace("$1,", f"{int(a) * int(b)},"))
    assert not first_right.correct and first_right.partial == 0.75  # hard-coded $1
    assert domain.score(item, wrong_tools).partial == 0.0
    assert domain.score(item, "garbage").partial == 0.0
    assert plan_scores("add(1,2)", "add(2,1)") == (True, True)
    summary = domain.plan_accuracy([item, item], [item.answer, wrong_tools])
    assert summary == {"plan_accuracy": 0.5, "answer_accuracy": 0.5, "call_accuracy": 0.5}
    assert domain.score_many([item, item], [item.answer, wrong_tools]) == [
        domain.score(item, item.answer),
        domain.score(item, wrong_tools),
    ]


def test_generated_data_verify_and_wrong_data_do_not(domain: ToolUseDomain) -> None:
    rng = random.Random(0)
    for skill in domain.skills():
        for sub in skill.subskills:
            for generated in domain.generate(skill.name, sub, 5, rng):
                assert domain.verify(generated) is None, generated

    def datum(prompt: str, response: str) -> TrainingDatum:
        return TrainingDatum(id="x", domain="tool-use", prompt=prompt, response=response)

    assert domain.verify(datum("3 times 4", "mul(3,4)")) is None
    assert "tools" in (domain.verify(datum("3 times 4", "add(3,4)")) or "")
    assert "answer" in (domain.verify(datum("3 times 4", "mul(3,5)")) or "")
    assert "arguments" in (domain.verify(datum("3 times 4", "mul(12,1)")) or "")
    assert (
        domain.verify_many([datum("3 times 4", "mul(4,3)"), datum("3 times 4", "mul(6,2)")])[0]
        is None
    )
    assert "not a tool-use query" in (domain.verify(datum("hello", "mul(3,4)")) or "")
    assert parse_query("price of p101 in lb") is None  # price has no unit


def test_numbers_in_words_and_primes_by_index_are_read_from_the_query(
    domain: ToolUseDomain,
) -> None:
    def datum(prompt: str, response: str) -> TrainingDatum:
        return TrainingDatum(id="x", domain="tool-use", prompt=prompt, response=response)

    spelled = parse_query("four hundred twelve times 3")
    assert spelled is not None and (spelled.skill, spelled.subskill) == ("number_words", "calc")
    assert domain.verify(datum("four hundred twelve times 3", "mul(412,3)")) is None
    assert domain.verify(datum("ninety-one km in mi", "conv(91,km,mi)")) is None
    prime = parse_query("prime #25 plus 4")
    assert prime is not None and (prime.skill, prime.subskill) == ("number_facts", "prime_calc")
    assert domain.verify(datum("prime #25 plus 4", "add(97,4)")) is None
    # The index is not the prime, and a near miss is not the answer.
    assert domain.verify(datum("prime #25 plus 4", "add(25,4)")) is not None
    assert domain.verify(datum("prime #3 m in ft", "conv(7,m,ft)")) is not None
    assert domain.verify(datum("prime #3 m in ft", "conv(5,m,ft)")) is None
    for unreadable in ("four hundred and twelve times 3", "prime #0 plus 4", "prime #3001 plus 4"):
        assert parse_query(unreadable) is None, unreadable
