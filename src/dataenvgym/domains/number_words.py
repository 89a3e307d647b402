"""Numbers as a description may name them: in English words, or as the i-th prime.

Two kinds of knowledge the code templates ask of a student beside writing Python. Reading
``four hundred twelve`` as ``412`` is a rule: learnable, but only from many examples, since
every digit depends on different words. Knowing that prime #97 is ``509`` is a fact per
number: examples teach the facts they show and nothing about the others, so a test item asks
for facts the student has most likely never seen.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from typing import Any

Params = dict[str, Any]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: How a spelled number looks: lowercase words joined by single spaces or hyphens.
WORDS_PATTERN = r"[a-z]+(?:[ -][a-z]+)*"
#: How many primes a description may name (prime #1 is 2, prime #300 is 1987).
PRIME_COUNT = 300


def spell(n: int) -> str:
    """``n`` (0-999) in English words: ``412`` -> ``four hundred twelve``, ``91`` ->
    ``ninety-one``.

    Raises:
        ValueError: ``n`` is outside 0-999.
    """
    if not 0 <= n <= 999:
        raise ValueError(f"can only spell 0-999, not {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    rest = n % 100
    return f"{_ONES[n // 100]} hundred" + ("" if rest == 0 else " " + spell(rest))


@functools.cache
def _spelled() -> dict[str, int]:
    return {spell(n): n for n in range(1000)}


def read(words: str) -> int | None:
    """The number ``words`` spells in :func:`spell`'s canonical form, else ``None``."""
    if re.fullmatch(WORDS_PATTERN, words) is None:
        return None
    return _spelled().get(words)


@functools.cache
def primes() -> tuple[int, ...]:
    """The first :data:`PRIME_COUNT` primes, ascending."""
    found: list[int] = []
    candidate = 2
    while len(found) < PRIME_COUNT:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return tuple(found)


def prime(index: int) -> int | None:
    """Prime #``index``, counted from 1 (prime #1 is 2); ``None`` outside 1-PRIME_COUNT."""
    table = primes()
    return table[index - 1] if 1 <= index <= len(table) else None


# Template parts shared by the code and tool-use templates: a draw of placeholder values gains
# a spelling or a prime, and a parsed prompt gets the number back (``KeyError`` when its
# words or index name none, which the templates read as "not one of my prompts").

Draw = Callable[[random.Random], Params]


def spelled(key: str, params: Draw) -> Draw:
    """``params`` plus the spelling of their ``key`` as ``words``."""

    def draw(rng: random.Random) -> Params:
        drawn = params(rng)
        return {**drawn, "words": spell(drawn[key])}

    return draw


def from_words(key: str) -> Callable[[Params], Params]:
    """Recovers ``key`` from a prompt's ``words``; ``KeyError`` unless they spell a number."""

    def derive(params: Params) -> Params:
        value = read(params["words"])
        if value is None:
            raise KeyError(params["words"])
        return {**params, key: value}

    return derive


def with_prime(params: Draw) -> Draw:
    """An index ``i`` and its prime ``p`` (drawn first), plus ``params``."""

    def draw(rng: random.Random) -> Params:
        i = rng.randint(1, PRIME_COUNT)
        return {**params(rng), "i": i, "p": prime(i)}

    return draw


def prime_of(params: Params) -> Params:
    """``params`` plus prime #``i`` as ``p``; ``KeyError`` for an index outside the table."""
    value = prime(params["i"])
    if value is None:
        raise KeyError(params["i"])
    return {**params, "p": value}
