"""The oracle's allocations: shares ∝ measured gains, and a search over unit shares.

The oracle's fixed candidates (uniform, gain-proportional, the with-state rule's plan) are a
handful of points in the space of allocations. The search samples more around the best of
them: each allocation is a vector of logits over the units, shares are their softmax, and a
generation draws logits from a normal distribution centred on the mean logits of the elite
(the best allocations tried so far in this step) with a spread that narrows each generation.
Every sampled allocation is rounded to exactly the step's budget, so however wide the search,
the data submitted is never more than any agent's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from dataenvgym.agents.allocation import largest_remainder, softmax

#: Shares below this are treated as this share when turned into logits (log 0 is -inf).
_MIN_SHARE = 1e-6
#: A subskill "gained" under uniform data when its gain is above half a point.
_GAINED = 0.005


def logits_of(counts: Mapping[str, int], units: Sequence[str]) -> list[float]:
    """Log-shares of an allocation (units it gives nothing get a small share)."""
    total = sum(counts.get(u, 0) for u in units) or 1
    return [math.log(max(counts.get(u, 0) / total, _MIN_SHARE)) for u in units]


def counts_of(logits: Sequence[float], units: Sequence[str], budget: int) -> dict[str, int]:
    """Softmax shares of ``logits`` rounded to exactly ``budget`` (largest remainder)."""
    return largest_remainder(softmax(dict(zip(units, logits, strict=True))), budget)


def elite_mean(elites: Sequence[Mapping[str, int]], units: Sequence[str]) -> list[float]:
    """The mean logits of the elite allocations: the centre of the next generation."""
    vectors = [logits_of(counts, units) for counts in elites]
    return [sum(column) / len(vectors) for column in zip(*vectors, strict=True)]


def sample_allocations(
    centre: Sequence[float],
    units: Sequence[str],
    budget: int,
    *,
    population: int,
    sigma: float,
    rng: random.Random,
    exclude: Sequence[Mapping[str, int]] = (),
) -> list[dict[str, int]]:
    """``population`` allocations drawn around ``centre`` (logits), each exactly ``budget``.

    Allocations equal to one in ``exclude`` (already tried) or drawn twice are redrawn, a
    bounded number of times, so fewer may come back when the space is that small.
    """
    seen = [dict(c) for c in exclude]
    out: list[dict[str, int]] = []
    for _ in range(population * 10):
        if len(out) >= population:
            break
        logits = [z + sigma * rng.gauss(0.0, 1.0) for z in centre]
        counts = counts_of(logits, units, budget)
        if counts not in seen:
            seen.append(counts)
            out.append(counts)
    return out


def oracle_allocation(
    gains: dict[str, float], budget: int, floor: float, *, equal: bool = False
) -> dict[str, int]:
    """Split ``budget`` over subskills: a uniform ``floor`` plus shares ∝ max(gain, 0)
    (``equal``: the same share for every subskill that gained more than half a point).

    With no positive gain anywhere the whole budget is uniform (the no-state allocation).
    """
    keys = sorted(gains)
    if not keys:
        return {}
    if equal:
        scores = {k: float(gains[k] > _GAINED) for k in keys}
    else:
        scores = {k: max(gains[k], 0.0) for k in keys}
    return _over_floor(scores, budget, floor)


def _over_floor(scores: Mapping[str, float], budget: int, floor: float) -> dict[str, int]:
    """``budget`` split as a uniform ``floor`` plus the rest ∝ ``scores`` (all uniform when
    every score is 0)."""
    keys = sorted(scores)
    mass = sum(scores.values())
    floor = floor if mass > 0 else 1.0
    weights = {
        k: floor / len(keys) + (1 - floor) * (scores[k] / mass if mass > 0 else 0.0) for k in keys
    }
    return largest_remainder(weights, budget)


def top_k_allocation(
    gains: Mapping[str, float], budget: int, k: int, floor: float
) -> dict[str, int]:
    """Split ``budget``: a uniform ``floor``, the rest in equal shares over the ``k`` subskills
    that gained most (those that gained more than half a point; ties by name).

    Concentrating pays where a unit's returns grow faster than its share, which the
    gain-proportional candidates never try: measured on arithmetic under the retrain trainer,
    one step of three units' data beat uniform data by about 7 points (held for a whole
    episode the same plan loses to it, see docs/when-state-pays.md; the oracle judges each
    step's candidates on its private items). With no unit that gained, the whole budget is
    uniform.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    keys = sorted(gains)
    if not keys:
        return {}
    ranked = sorted((u for u in keys if gains[u] > _GAINED), key=lambda u: (-gains[u], u))
    chosen = set(ranked[:k])
    return _over_floor({u: float(u in chosen) for u in keys}, budget, floor)
