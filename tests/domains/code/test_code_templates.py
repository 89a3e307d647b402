"""The code templates: prompts parse back, references run, tests depend on the prompt only."""

from __future__ import annotations

import random

import pytest

from dataenvgym.domains.code.domain import hidden_checks, parse_prompt, solution_source
from dataenvgym.domains.code.templates import CATALOGUE, fill

ALL = [
    (skill, sub, template)
    for skill, subs in CATALOGUE.items()
    for sub, (_, templates) in subs.items()
    for template in templates
]


@pytest.mark.parametrize(("skill", "subskill", "template"), ALL, ids=lambda v: str(v)[:30])
def test_every_template_round_trips_and_its_solution_matches_its_reference(
    skill: str, subskill: str, template: object
) -> None:
    from dataenvgym.domains.code.templates import Template

    assert isinstance(template, Template)
    rng = random.Random(0)
    for _ in range(20):
        params = template.params(rng)
        prompt, solution = template.render(params)
        parsed = parse_prompt(prompt)
        assert parsed is not None and (parsed.skill, parsed.subskill) == (skill, subskill)
        assert parsed.params == params
        # The reference solution, run here in-process (it is our own code), agrees with
        # the reference function on the sampled inputs.
        namespace: dict[str, object] = {}
        exec(solution_source(template.arg, solution), namespace)
        function = template.reference(params)
        for value in template.inputs(rng, params):
            assert namespace["f"](value) == function(value), (prompt, value)  # type: ignore[operator]


def test_checks_are_a_function_of_the_prompt() -> None:
    parsed = parse_prompt("keep items above 40")
    assert parsed is not None
    first, again = hidden_checks(parsed, 48), hidden_checks(parsed, 48)
    assert first == again and len(first) == 48
    assert all(expected == [x for x in value if x > 40] for value, expected in first)
    assert len({repr(value) for value, _ in first}) == 48  # no input twice
    other = parse_prompt("keep items above 41")
    assert other is not None and hidden_checks(other, 48) != first


@pytest.mark.parametrize(
    ("prompt", "old", "new"),
    [
        ("replace ab with c in s", "ab", "c"),  # a run, as an LLM teacher may write
        ("replace a with xy in s", "a", "xy"),
        ("remove every aba from s", "aba", ""),  # overlapping runs: left to right
    ],
)
def test_string_checks_replace_whole_runs_left_to_right(prompt: str, old: str, new: str) -> None:
    parsed = parse_prompt(prompt)
    assert parsed is not None and parsed.subskill == "replace"
    checks = hidden_checks(parsed, 48)
    assert all(expected == value.replace(old, new) for value, expected in checks)
    # The checks hold inputs where the run occurs, overlapping itself or not.
    assert sum(value.count(old) >= 2 for value, _ in checks) >= 5


def test_a_run_of_the_whole_alphabet_still_gets_checks() -> None:
    run = "abcdefghijklmnopqrstuvwxyz"
    parsed = parse_prompt(f"replace {run} with zz in s")
    assert parsed is not None
    checks = hidden_checks(parsed, 48)
    assert len(checks) == 48
    assert all(expected == value.replace(run, "zz") for value, expected in checks)


def test_prompts_outside_the_catalogue_are_not_parsed() -> None:
    assert parse_prompt("keep items above -3") is None
    assert parse_prompt("keep items above 007") is None  # not the canonical spelling
    assert parse_prompt("write quicksort") is None


def test_fill_leaves_dict_braces_alone() -> None:
    assert fill("{x:a.count(x) for x in a if x>{n}}", {"n": 5}) == (
        "{x:a.count(x) for x in a if x>5}"
    )


def test_inputs_discriminate_a_nearby_wrong_threshold() -> None:
    """Checks sit on the threshold: an off-by-one solution fails on every prompt."""
    for n in range(100, 140):
        parsed = parse_prompt(f"keep items above {n}")
        assert parsed is not None
        namespace: dict[str, object] = {}
        exec(solution_source("a", f"[x for x in a if x>={n}]"), namespace)
        function = namespace["f"]
        assert any(function(value) != expected for value, expected in hidden_checks(parsed, 48))  # type: ignore[operator]
