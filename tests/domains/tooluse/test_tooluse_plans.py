"""A plan is right when it makes the query's calls: arguments checked, equivalents kept."""

from __future__ import annotations

import random

import pytest

from dataenvgym.domains.tooluse.domain import ToolUseDomain, parse_query
from dataenvgym.domains.tooluse.plans import (
    ARGUMENT_KINDS,
    COMMUTATIVE,
    call_trees,
    compare_plans,
)
from dataenvgym.domains.tooluse.templates import CATALOGUE
from dataenvgym.domains.tooluse.tools import TOOLS, parse_plan, run_plan
from dataenvgym.types import TaskInstance, TrainingDatum

DOMAIN = ToolUseDomain()


def _verdicts(prompt: str, plan: str) -> tuple[bool, bool]:
    """(score says correct, verify accepts) of ``plan`` for ``prompt``."""
    query = parse_query(prompt)
    assert query is not None, prompt
    gold = query.template.render(query.params)[1]
    instance = TaskInstance(id="t", domain="tool-use", prompt=prompt, answer=gold)
    datum = TrainingDatum(id="d", domain="tool-use", prompt=prompt, response=plan)
    return DOMAIN.score_many([instance], [plan])[0].correct, DOMAIN.verify(datum) is None


def test_every_tool_has_argument_kinds_of_its_arity() -> None:
    assert set(ARGUMENT_KINDS) == set(TOOLS)
    assert all(len(ARGUMENT_KINDS[name]) == arity for name, (arity, _) in TOOLS.items())
    assert set(TOOLS) >= COMMUTATIVE


@pytest.mark.parametrize(
    ("prompt", "plan"),
    [
        ("478 times 884", "mul(422552,1)"),
        ("478 times 884", "mul(884,478)|mul($1,1)"),
        ("339 days after 2025-07-30", "dadd(2026-07-04,0)"),
        ("339 days after 2025-07-30", "dadd(2025-07-30,339.5)"),  # the tool truncates; not 339
        ("length of roti times 25", "len(soti)|mul($1,25)"),
        ("length of roti times 25", "len(roti)|mul(4,25)"),  # a literal for $1
        ("length of roti times 25", "len(soti)|mul(25,$1)"),
        ("uppercase roti", "up(ROTI)"),
        ("12 minus 5, over 7", "sub(12,5)|div(7,7)"),
        ("weight of p217 in lb", "look(p217,weight)|conv($1,kg,lb)|mul($2,1)"),
    ],
)
def test_hard_coded_plans_with_the_right_answer_are_wrong(prompt: str, plan: str) -> None:
    query = parse_query(prompt)
    assert query is not None
    gold = query.template.render(query.params)[1]
    if run_plan(gold)[0] == run_plan(plan)[0]:  # same tools: only the arguments tell them apart
        assert run_plan(plan)[1] == run_plan(gold)[1]
    assert _verdicts(prompt, plan) == (False, False)


@pytest.mark.parametrize(
    ("prompt", "plan"),
    [
        ("478 times 884", "mul(884,478)"),
        ("478 times 884", " mul( 478 , 884 ) "),
        ("478 times 884", "mul(478.0,+884)"),
        ("478 times 884", "mul(0478,884.00)"),
        ("339 days after 2025-07-30", "dadd(20250730,339)"),
        ("339 days before 2025-07-30", "dadd(2025-07-30,-339.0)"),
        ("length of roti times 25", "len(roti)|mul(25,$1)"),
        ("length of roti times 25", "len(roti) | mul($01,25)"),
        ("12 times 34, plus 5", "mul(34,12)|add(5,$1)"),
        ("price of p217 minus p101", "look(p101,price)|look(p217,price)|sub($2,$1)"),
        ("weeks from 2025-01-01 to 2025-03-01", "ddiff(2025-01-01,2025-03-01)|div($1,7.0)"),
    ],
)
def test_equivalent_rewrites_stay_right(prompt: str, plan: str) -> None:
    assert _verdicts(prompt, plan) == (True, True)


@pytest.mark.parametrize(
    ("prompt", "plan"),
    [
        ("478 times 884", "add(478,884)"),  # wrong tool
        ("length of roti times 25", "mul(4,25)"),  # missing call
        ("uppercase reversed roti", "up(roti)|rev($1)"),  # swapped order, same answer
        ("12 minus 5, over 7", "sub(5,12)|div($1,7)"),  # swapped arguments
        ("price of p217 minus p101", "look(p217,price)|look(p101,price)|sub($2,$1)"),
        ("478 times 884", "mul(478,884)|mul($1,$1)"),
        ("478 times 884", "not a plan"),
    ],
)
def test_natural_mutants_stay_wrong(prompt: str, plan: str) -> None:
    assert _verdicts(prompt, plan) == (False, False)


def _mutate_literal(plan: str, rng: random.Random) -> str | None:
    """Change one literal argument to another value of its kind, or None if there is none."""
    calls = parse_plan(plan)
    spots = [
        (c, a)
        for c, call in enumerate(calls)
        for a, arg in enumerate(call.args)
        if not arg.startswith("$")
    ]
    c, a = rng.choice(spots)
    old = calls[c].args[a]
    kind = ARGUMENT_KINDS[calls[c].tool][a]
    if kind == "num":
        new = str(float(old) + rng.choice([-1, 1, 7]))
    elif kind == "date":
        new = old[:-1] + ("1" if old[-1] != "1" else "2")
    else:
        new = old[::-1] if old[::-1] != old else old + "x"
    args = list(calls[c].args)
    args[a] = new
    parts = [f"{call.tool}({','.join(call.args)})" for call in calls]
    parts[c] = f"{calls[c].tool}({','.join(args)})"
    return "|".join(parts)


def test_every_template_rejects_any_changed_literal_and_accepts_its_gold() -> None:
    rng = random.Random(7)
    for subs in CATALOGUE.values():
        for _, templates in subs.values():
            for template in templates:
                for _ in range(15):
                    prompt, gold = template.render(template.params(rng))
                    assert _verdicts(prompt, gold) == (True, True)
                    mutant = _mutate_literal(gold, rng)
                    assert mutant is not None
                    if call_trees(mutant) == call_trees(gold):  # e.g. 5 -> 5.0: same value
                        continue
                    assert _verdicts(prompt, mutant) == (False, False), (prompt, mutant)


def test_partial_credit_is_tool_order_and_share_of_right_calls() -> None:
    gold = "look(p217,price)|look(p101,price)|sub($1,$2)"
    right = compare_plans(gold, "look(p101,price)|look(p217,price)|sub($2,$1)")
    assert right.correct and right.partial == 1.0
    one_wrong_look = compare_plans(gold, "look(p217,price)|look(p102,price)|sub($1,$2)")
    assert not one_wrong_look.correct and one_wrong_look.calls_share == pytest.approx(1 / 3)
    assert one_wrong_look.partial == pytest.approx((1 + 1 / 3) / 2)
    no_plan = compare_plans(gold, "5")
    assert (no_plan.tools_exact, no_plan.calls_share, no_plan.partial) == (False, 0.0, 0.0)
    with pytest.raises(ValueError, match="gold plan"):
        compare_plans("nope", "add(1,2)")


def test_plans_that_cannot_run_have_no_call_trees() -> None:
    assert call_trees("add(1,2)|mul($3,2)") is None  # names a later call
    assert call_trees("add(1)") is None
    assert call_trees("foo(1,2)") is None
    assert call_trees("add(1,2)|mul($1,2)") == [
        ("add", (("num", 1.0), ("num", 2.0))),
        ("mul", (("add", (("num", 1.0), ("num", 2.0))), ("num", 2.0))),
    ]


def test_score_checks_the_query_not_a_wrong_answer_field() -> None:
    # Skill-Tree scores the student on data as instances: the query decides, not the label.
    mislabelled = TaskInstance(id="t", domain="tool-use", prompt="3 times 4", answer="mul(6,2)")
    assert DOMAIN.score(mislabelled, "mul(3,4)").correct
    assert not DOMAIN.score(mislabelled, "mul(6,2)").correct
    foreign = TaskInstance(id="t", domain="tool-use", prompt="what?", answer="add(1,2)")
    assert DOMAIN.score(foreign, "add(2,1)").correct
    broken = TaskInstance(id="t", domain="tool-use", prompt="what?", answer="nonsense")
    assert DOMAIN.score(broken, "add(1,2)") == DOMAIN.score(broken, "nonsense")
    assert not DOMAIN.score(broken, "nonsense").correct
