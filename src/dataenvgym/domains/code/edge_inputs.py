"""Input generators of the code templates: edge cases first, then random inputs.

An answer is judged by differential testing: it must return exactly what the template's
reference returns on every hidden input. The inputs therefore sit where wrong answers and
the reference part ways: at a threshold and one either side of it, on every remainder of a
modulus, on strings shorter than, as long as and longer than both slice bounds, on ties
that a wrong tie-break would reorder, on empty inputs. Each generator returns its fixed
edge cases first, then ``_FILL`` random inputs drawn around the parameters; the caller takes
as many as it needs (and calls again for more random ones).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Params = dict[str, Any]
Inputs = Callable[[random.Random, Params], list[Any]]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Random inputs added after the edge cases on each call.
_FILL = 40


def _shuffled(rng: random.Random, values: list[Any]) -> list[Any]:
    values = list(values)
    rng.shuffle(values)
    return values


def _random_list(rng: random.Random, centre: int, spread: int, size: tuple[int, int]) -> list[int]:
    values = [rng.randint(centre - spread, centre + spread) for _ in range(rng.randint(*size))]
    if values and rng.random() < 0.3:  # repeats
        values += rng.sample(values, rng.randint(1, len(values)))
        rng.shuffle(values)
    return values


def threshold_lists(key: str = "n") -> Inputs:
    """Lists around ``p[key]``: holding it, one either side, all above, all below, empty."""

    def sample(rng: random.Random, p: Params) -> list[Any]:
        n = p[key]
        edges: list[Any] = [
            [],
            [n],
            [n + 1],
            [n - 1],
            [n + 1, n, n - 1],
            [n - 1, n, n + 1, n, n + 1],
            [n + 1, n + 2, n + 50, n + 1],
            [n - 1, n - 2, n - 50, n - 1],
            [0, n, 2 * n + 1, n + 1000, 1],
            _shuffled(rng, list(range(n - 6, n + 7))),
            [-1, n + 1, -n - 1, 5, n],
        ]
        for _ in range(_FILL):
            spread = rng.choice((1, 2, 4, 12, 100))
            values = _random_list(rng, n, spread, (0, 12))
            if values and rng.random() < 0.5:
                values[rng.randrange(len(values))] = n
            edges.append(values)
        return edges

    return sample


def remainder_counts_lists(rng: random.Random, p: Params) -> list[Any]:
    """Every remainder of ``k`` on both sides of the threshold ``n``."""
    n, k = p["n"], p["k"]
    return [
        _shuffled(rng, list(range(n - 2 * k, n + 2 * k + 1))),
        list(range(n + 1, n + k + 1)),
        list(range(n - k, n + 1)),
        *threshold_lists("n")(rng, p),
    ]


def remainder_lists(rng: random.Random, p: Params) -> list[Any]:
    """Every remainder ``0 .. k-1``, the wanted one ``r`` alone and among its neighbours."""
    k, r = p["k"], p["r"]
    edges: list[Any] = [
        [],
        [r],
        [r + k],
        [0, k, 2 * k],
        list(range(k)),
        _shuffled(rng, list(range(k, 3 * k))),
        [r + 1, r, r - 1, r + 2 * k, r + k - 1],
        [r * 5 + 1, r + 7 * k, -k + r, k - 1],
    ]
    for _ in range(_FILL):
        values = []
        for _ in range(rng.randint(1, 10)):
            rem = r if rng.random() < 0.4 else rng.randrange(k)
            values.append(rng.randint(0, 30) * k + rem)
        edges.append(values)
    return edges


def number_lists(low: int, high: int) -> Inputs:
    """Lists for maps and extremes: singletons, both orders, repeats, negatives, random."""

    def sample(rng: random.Random, p: Params) -> list[Any]:
        edges: list[Any] = [
            [0],
            [1],
            [high],
            [5, 3],
            [3, 5],
            [7, 9, 2],
            [4, 4, 4],
            [-3, 2, -7],
            [high, low, (low + high) // 2, high],
            list(range(12)),
            list(range(12, 0, -1)),
        ]
        for _ in range(_FILL):
            edges.append([rng.randint(low, high) for _ in range(rng.randint(1, 12))])
        return edges

    return sample


def map_lists(low: int, high: int) -> Inputs:
    """:func:`number_lists` plus the empty list (a map of nothing is nothing)."""
    base = number_lists(low, high)
    return lambda rng, p: [[], *base(rng, p)]


def slice_strings(rng: random.Random, p: Params) -> list[Any]:
    """Strings of every length around both bounds ``i`` and ``j``, and random lengths."""
    i, j = p["i"], p["j"]
    lengths = [0, 1, i - 1, i, i + 1, (i + j) // 2, j - 1, j, j + 1, j + 2, j + 10]
    edges: list[Any] = [_distinct_word(rng, n) for n in lengths if n >= 0]
    for _ in range(_FILL):
        edges.append(_distinct_word(rng, rng.randint(0, j + 15)))
    return edges


def _distinct_word(rng: random.Random, length: int) -> str:
    # Letters that vary along the string, so a slice off by one gives a different text.
    return "".join(rng.choice(_LETTERS) for _ in range(length))


def letter_strings(rng: random.Random, p: Params) -> list[Any]:
    """Strings with the run ``c`` nowhere, once, many times, at both ends, next to ``d``,
    overlapping itself (``aba`` in ``ababa``) and cut short (``ab`` for ``abc``)."""
    c, d = p["c"], p.get("d", "z" if p["c"] != "z" else "y")
    others = [x for x in _LETTERS if x not in c and x not in d]
    # A prompt may name runs that use up the alphabet: the fillers then repeat their letters.
    others += [x for x in _LETTERS if x not in others]
    o1, o2 = others[0], others[1]
    edges: list[Any] = [
        "",
        c,
        c * 3,
        f"{o1}{o2}",
        f"{c}{o1}{c}",
        f"{o1}{c}{o2}{c}{c}{o1}",
        f"{d}{c}{d}",
        f"{d}{o1}",
        f"{c}{c}{o1}{o2}{c}",
        f"{o2}{d}{c}{o1}{c}{d}",
        f"{c}{c[1:]}{c[-1]}",
        f"{c[:-1]}{c}{o1}{c[:-1]}",
        f"{c[0]}{c}{c[1:]}",
    ]
    # Random strings are made of whole runs and single letters, so that a run of two or
    # three letters occurs in them as often as a single letter would.
    pieces = [*others[:6], *c, c, c, c, d]
    for _ in range(_FILL):
        edges.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))))
    return edges


def pick_numbers(rng: random.Random, p: Params) -> list[Any]:
    """The threshold, one and two either side, both far sides, random numbers."""
    n = p["n"]
    edges: list[Any] = [n, n + 1, n - 1, n + 2, n - 2, 0, 1, 99, 100, 250, -1, 10**6]
    for _ in range(_FILL):
        edges.append(rng.randint(n - 15, n + 15) if rng.random() < 0.6 else rng.randint(0, 300))
    return edges


def parity_numbers(rng: random.Random, p: Params) -> list[Any]:
    """Small numbers of both parities, large ones, negatives."""
    edges: list[Any] = [*range(0, 12), 100, 101, 998, 999, 10**6, 10**6 + 1, -1, -2, -7]
    for _ in range(_FILL):
        edges.append(rng.randint(0, 1000))
    return edges


def counted_lists(rng: random.Random, p: Params) -> list[Any]:
    """Lists with repeats around the threshold ``n``."""
    n = p["n"]
    edges: list[Any] = [
        [],
        [n, n, n],
        [n + 1, n + 1, n, n + 2, n + 1],
        [n - 1, n + 1, n - 1, n + 1],
        [n + 3, n + 2, n + 3, n + 1, n + 2, n + 3],
    ]
    for _ in range(_FILL):
        values = [rng.randint(n - 4, n + 4) for _ in range(rng.randint(1, 10))]
        edges.append(values + rng.sample(values, rng.randint(0, len(values))))
    return edges


def remainder_sort_lists(rng: random.Random, p: Params) -> list[Any]:
    """Lists with ties of remainder in every order, so a wrong tie-break shows."""
    k = p["k"]
    edges: list[Any] = [
        [],
        [5],
        [2 * k + 1, 1, k + 1],
        [k, 0, 2 * k],
        [1, k + 1, 2 * k + 1],
        [3 * k - 1, k - 1, 2, k + 2],
        list(range(2 * k + 3, -1, -1))[:30],
        [k + 1, 1, k, 0, 2 * k + 1, 2 * k],
    ]
    for _ in range(_FILL):
        base = [rng.randint(0, 3 * k) for _ in range(rng.randint(2, 10))]
        ties = [x + k * rng.randint(1, 3) for x in rng.sample(base, min(len(base), 3))]
        edges.append(_shuffled(rng, base + ties))
    return edges


def distance_sort_lists(rng: random.Random, p: Params) -> list[Any]:
    """Lists with pairs equally far on both sides of ``n``, in both orders."""
    n = p["n"]
    edges: list[Any] = [
        [],
        [n],
        [n + 3, n - 3],
        [n - 3, n + 3],
        [n + 1, n, n - 1, n + 2],
        [n - 5, n + 9, n + 5, n - 9, n],
        [n + 40, n - 2, n + 2, n - 40],
    ]
    for _ in range(_FILL):
        values = [n + rng.randint(-30, 30) for _ in range(rng.randint(2, 9))]
        mirrored = [2 * n - x for x in rng.sample(values, min(len(values), 2))]
        edges.append(_shuffled(rng, values + mirrored))
    return edges
