"""Parameter draws of the code templates, and the reference of their string templates.

Ranges are wide enough that a subskill's held-out prompts (300 in the default splits) are
at most 5 % of what its generator draws: the environment drops a teacher's datum whose
prompt is held out, and over a small prompt space it would drop a large, unit-dependent
share of any allocation (``bench/prompt_space.py``). Where a placeholder pair has unequal
numbers of values (a modulus and its remainders), the draw is uniform over the pairs, so
the few prompts of a small modulus are not drawn, and held out, far more often than others.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from dataenvgym.domains import number_words as N

Params = dict[str, Any]
Draw = Callable[[random.Random], Params]
Derive = Callable[[Params], Params]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def ranged(**ranges: tuple[int, int]) -> Draw:
    """Each named placeholder uniform over its inclusive ``(low, high)`` range."""

    def draw(rng: random.Random) -> Params:
        return {k: rng.randint(lo, hi) for k, (lo, hi) in ranges.items()}

    return draw


#: Upper end of the numbers the templates put in a prompt (thresholds, constants, keys).
NUMBER_MAX = 7999
#: Numbers in words go up to here (``three thousand nine hundred ninety-nine``).
WORDS_MAX = 3999
#: Primes are named among the first this many (prime #6000 is 59359).
PRIME_COUNT = 6000


def from_words(key: str) -> Derive:
    """Recovers ``key`` from a prompt's ``words``, up to :data:`WORDS_MAX`."""
    return N.from_words(key, WORDS_MAX)


def with_prime(params: Draw) -> Draw:
    """``params`` plus an index ``i`` of the first :data:`PRIME_COUNT` primes and its prime."""
    return N.with_prime(params, PRIME_COUNT)


#: Prime #``i`` of the first :data:`PRIME_COUNT` as ``p`` (``KeyError`` past them).
prime_of = N.prime_of_first(PRIME_COUNT)


MODULI = range(2, 151)


def remainder_params(rng: random.Random) -> Params:
    """A modulus ``k`` up to 150 and a remainder ``r``, uniform over the 11,324 pairs."""
    k = rng.choices(MODULI, weights=MODULI)[0]
    return {"k": k, "r": rng.randrange(k)}


def slice_params(rng: random.Random) -> Params:
    """Slice bounds ``i`` < ``j``: ``i`` in the first 120 characters, ``j`` up to 60 on."""
    i = rng.randint(0, 119)
    return {"i": i, "j": rng.randint(i + 1, i + 60)}


def letters(rng: random.Random, lengths: tuple[int, ...], exclude: str = "") -> str:
    """A run of letters, uniform over all runs of the given lengths except ``exclude``."""
    while True:
        n = rng.choices(lengths, weights=[26**n for n in lengths])[0]
        run = "".join(rng.choice(_LETTERS) for _ in range(n))
        if run != exclude:
            return run


def replacement(rng: random.Random) -> Params:
    """A letter ``c`` and what replaces it, ``d``: one or two letters, never ``c`` itself."""
    c = rng.choice(_LETTERS)
    return {"c": c, "d": letters(rng, (1, 2), exclude=c)}


def removal(rng: random.Random) -> Params:
    """A run ``c`` of two or three letters to remove."""
    return {"c": letters(rng, (2, 3))}


def replace_all(text: str, old: str, new: str) -> str:
    """Every non-overlapping ``old`` in ``text``, left to right, replaced by ``new``.

    The reference of the string templates, written as a scan rather than with the
    ``str.replace`` the solutions use.
    """
    out, i = [], 0
    while i < len(text):
        if text.startswith(old, i):
            out.append(new)
            i += len(old)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
