"""Numbers named in words or as the i-th prime: spelled, read back, and parsed from prompts."""

from __future__ import annotations

import pytest

from dataenvgym.domains.code import number_words as N
from dataenvgym.domains.code.domain import hidden_checks, parse_prompt


def test_every_number_reads_back_from_its_spelling() -> None:
    spellings = [N.spell(n) for n in range(1000)]
    assert len(set(spellings)) == 1000
    assert all(N.read(words) == n for n, words in enumerate(spellings))
    assert N.spell(412) == "four hundred twelve"
    assert N.spell(91) == "ninety-one"
    assert N.spell(700) == "seven hundred"


@pytest.mark.parametrize(
    "words",
    ["four hundred and twelve", "Four hundred twelve", "ninety one", "fourty", "one thousand", ""],
)
def test_only_the_canonical_spelling_is_read(words: str) -> None:
    assert N.read(words) is None


def test_spell_refuses_numbers_it_cannot_name() -> None:
    with pytest.raises(ValueError, match="0-999"):
        N.spell(1000)


def test_the_prime_table_is_the_primes() -> None:
    table = N.primes()
    assert len(table) == N.PRIME_COUNT
    composite = {m * k for m in range(2, 2000) for k in range(2, 1000) if m * k < 2000}
    assert list(table) == [p for p in range(2, table[-1] + 1) if p not in composite]
    assert (N.prime(1), N.prime(N.PRIME_COUNT)) == (2, 1987)
    assert N.prime(0) is None and N.prime(N.PRIME_COUNT + 1) is None


def test_a_spelled_threshold_prompt_is_checked_against_the_number_it_names() -> None:
    parsed = parse_prompt("keep items above four hundred twelve")
    assert parsed is not None
    assert (parsed.skill, parsed.subskill) == ("number_words", "threshold")
    assert parsed.params["n"] == 412
    checks = hidden_checks(parsed, 48)
    assert all(expected == [x for x in value if x > 412] for value, expected in checks)


def test_a_prime_prompt_is_checked_against_that_prime() -> None:
    parsed = parse_prompt("add prime #25 to each")
    assert parsed is not None
    assert (parsed.skill, parsed.subskill) == ("number_facts", "prime_shift")
    assert parsed.params["p"] == 97
    assert all(expected == [x + 97 for x in value] for value, expected in hidden_checks(parsed, 48))


@pytest.mark.parametrize(
    "prompt",
    [
        "keep items above four hundred and twelve",  # not the canonical spelling
        "keep items above fourty",
        "keep items above prime #0",  # the table starts at #1
        "keep items above prime #301",  # past the table
        "keep items above prime #07",
        "add prime # 3 to each",
    ],
)
def test_prompts_that_name_no_number_are_not_parsed(prompt: str) -> None:
    assert parse_prompt(prompt) is None
