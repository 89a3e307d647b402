"""Numbers named in words or as the i-th prime: spelled, read back, looked up."""

from __future__ import annotations

import pytest

from dataenvgym.domains import number_words as N


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
