"""Code prompts that name a number in words or as the i-th prime are checked against it."""

from __future__ import annotations

import pytest

from dataenvgym.domains.code.domain import hidden_checks, parse_prompt


def test_a_spelled_threshold_prompt_is_checked_against_the_number_it_names() -> None:
    parsed = parse_prompt("keep items above four hundred twelve")
    assert parsed is not None
    assert (parsed.skill, parsed.subskill) == ("number_words", "threshold")
    assert parsed.params["n"] == 412
    checks = hidden_checks(parsed, 48)
    assert all(expected == [x for x in value if x > 412] for value, expected in checks)


def test_a_spelled_number_in_the_thousands_is_read() -> None:
    parsed = parse_prompt("add three thousand seventy-one to each")
    assert parsed is not None
    assert (parsed.skill, parsed.subskill, parsed.params["k"]) == ("number_words", "scale", 3071)


def test_a_prime_prompt_is_checked_against_that_prime() -> None:
    parsed = parse_prompt("add prime #25 to each")
    assert parsed is not None
    assert (parsed.skill, parsed.subskill) == ("number_facts", "prime_shift")
    assert parsed.params["p"] == 97
    assert all(expected == [x + 97 for x in value] for value, expected in hidden_checks(parsed, 48))
    far = parse_prompt("add prime #6000 to each")
    assert far is not None and far.params["p"] == 59359


@pytest.mark.parametrize(
    "prompt",
    [
        "keep items above four hundred and twelve",  # not the canonical spelling
        "keep items above fourty",
        "keep items above prime #0",  # the table starts at #1
        "keep items above prime #6001",  # past the table
        "keep items above four thousand",  # past the largest spelled threshold
        "keep items above prime #07",
        "add prime # 3 to each",
    ],
)
def test_prompts_that_name_no_number_are_not_parsed(prompt: str) -> None:
    assert parse_prompt(prompt) is None
