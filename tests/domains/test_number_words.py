"""Numbers named in words or as the i-th prime: spelled, read back, looked up."""

from __future__ import annotations

import pytest

from dataenvgym.domains import number_words as N


def test_every_number_reads_back_from_its_spelling() -> None:
    spellings = [N.spell(n) for n in range(N.SPELL_MAX + 1)]
    assert len(set(spellings)) == N.SPELL_MAX + 1
    assert all(N.read(words, N.SPELL_MAX) == n for n, words in enumerate(spellings))
    assert N.spell(412) == "four hundred twelve"
    assert N.spell(91) == "ninety-one"
    assert N.spell(700) == "seven hundred"
    assert N.spell(2025) == "two thousand twenty-five"
    assert N.spell(7000) == "seven thousand"


def test_read_names_nothing_above_its_limit() -> None:
    assert N.read("one thousand") is None  # the default limit is 999
    assert N.read("one thousand", limit=1000) == 1000
    assert N.read("nine hundred ninety-nine") == 999


@pytest.mark.parametrize(
    "words",
    ["four hundred and twelve", "Four hundred twelve", "ninety one", "fourty", "one thousand", ""],
)
def test_only_the_canonical_spelling_is_read(words: str) -> None:
    assert N.read(words) is None


def test_spell_refuses_numbers_it_cannot_name() -> None:
    with pytest.raises(ValueError, match="0-9999"):
        N.spell(10000)


def test_the_prime_table_is_the_primes() -> None:
    table = N.primes()
    assert len(table) == N.PRIME_COUNT
    composite = {m * k for m in range(2, 2000) for k in range(2, 1000) if m * k < 2000}
    assert list(table) == [p for p in range(2, table[-1] + 1) if p not in composite]
    assert (N.prime(1), N.prime(N.PRIME_COUNT)) == (2, 1987)
    assert N.prime(0) is None and N.prime(N.PRIME_COUNT + 1) is None
    assert N.primes(6000)[: N.PRIME_COUNT] == table
    assert (N.prime(301), N.prime(301, count=6000)) == (None, 1993)


def test_a_derive_reads_only_its_own_table() -> None:
    assert N.prime_of({"i": 300}) == {"i": 300, "p": 1987}
    with pytest.raises(KeyError):
        N.prime_of({"i": 301})
    assert N.prime_of_first(6000)({"i": 6000})["p"] == 59359
