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
#: How many primes a description may name by default (prime #1 is 2, prime #300 is 1987).
PRIME_COUNT = 300
#: The largest number :func:`spell` names.
SPELL_MAX = 9999
#: The largest number a spelled prompt may name by default.
WORDS_MAX = 999


def spell(n: int) -> str:
    """``n`` (0-9999) in English words: ``412`` -> ``four hundred twelve``, ``91`` ->
    ``ninety-one``, ``2025`` -> ``two thousand twenty-five``.

    Raises:
        ValueError: ``n`` is outside 0-9999.
    """
    if not 0 <= n <= SPELL_MAX:
        raise ValueError(f"can only spell 0-{SPELL_MAX}, not {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return f"{_ONES[n // 100]} hundred" + ("" if rest == 0 else " " + spell(rest))
    rest = n % 1000
    return f"{_ONES[n // 1000]} thousand" + ("" if rest == 0 else " " + spell(rest))


@functools.cache
def _spelled() -> dict[str, int]:
    return {spell(n): n for n in range(SPELL_MAX + 1)}


def read(words: str, limit: int = WORDS_MAX) -> int | None:
    """The number (at most ``limit``) ``words`` spells in :func:`spell`'s canonical form,
    else ``None``."""
    if re.fullmatch(WORDS_PATTERN, words) is None:
        return None
    value = _spelled().get(words)
    return value if value is not None and value <= limit else None


@functools.cache
def primes(count: int = PRIME_COUNT) -> tuple[int, ...]:
    """The first ``count`` primes, ascending."""
    # A sieve up to a bound that doubles until it holds enough primes: the code templates
    # name the first 6,000 (up to 59,359), which trial division took over half a second
    # to find in every process that first parsed such a prompt.
    bound = 16
    while True:
        sieve = bytearray([1]) * (bound + 1)
        sieve[0:2] = b"\x00\x00"
        for n in range(2, int(bound**0.5) + 1):
            if sieve[n]:
                sieve[n * n :: n] = bytes(len(range(n * n, bound + 1, n)))
        found = [n for n in range(bound + 1) if sieve[n]]
        if len(found) >= count:
            return tuple(found[:count])
        bound *= 2


def prime(index: int, count: int = PRIME_COUNT) -> int | None:
    """Prime #``index``, counted from 1 (prime #1 is 2); ``None`` outside 1-``count``."""
    return primes(count)[index - 1] if 1 <= index <= count else None


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


def from_words(key: str, limit: int = WORDS_MAX) -> Callable[[Params], Params]:
    """Recovers ``key`` from a prompt's ``words``; ``KeyError`` unless they spell a number
    of at most ``limit``."""

    def derive(params: Params) -> Params:
        value = read(params["words"], limit)
        if value is None:
            raise KeyError(params["words"])
        return {**params, key: value}

    return derive


def with_prime(params: Draw, count: int = PRIME_COUNT) -> Draw:
    """An index ``i`` of the first ``count`` primes and its prime ``p`` (drawn first), plus
    ``params``."""

    def draw(rng: random.Random) -> Params:
        i = rng.randint(1, count)
        return {**params(rng), "i": i, "p": prime(i, count)}

    return draw


def prime_of(params: Params) -> Params:
    """``params`` plus prime #``i`` as ``p``; ``KeyError`` for an index outside the first
    :data:`PRIME_COUNT`."""
    return prime_of_first(PRIME_COUNT)(params)


def prime_of_first(count: int) -> Callable[[Params], Params]:
    """:func:`prime_of` for a table of the first ``count`` primes."""

    def derive(params: Params) -> Params:
        value = prime(params["i"], count)
        if value is None:
            raise KeyError(params["i"])
        return {**params, "p": value}

    return derive
