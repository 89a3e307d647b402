"""Scores that compare teachers across domains, environments, budgets and students.

* **Normalized teaching score** of an agent in a setting (domain × environment × budget ×
  student)::

      (gain(agent) − gain(no-state)) / (gain(oracle) − gain(no-state))

  0 is the no-state baseline, 1 the privileged oracle. Gains are test-accuracy gains over
  the base student. Over seeds it is a ratio of means on the seeds where all three agents
  ran (a seed's runs share its base student and splits, so the differences are paired):
  mean(agent − no-state) / mean(oracle − no-state), with Fieller's 95 % interval, which
  carries the uncertainty of the denominator as well as the numerator's. When the gap
  itself is within seed noise (its t-interval holds 0) the interval is unbounded: the seeds
  run cannot place an agent on the scale. When the oracle does not beat the no-state agent
  at all, the setting cannot tell agents apart and no number is given.
* **Data efficiency**: the training data an agent needed to reach the no-state agent's final
  test accuracy, as a fraction of the no-state agent's data, read off the per-iteration test
  curve (``summary.json``'s iterations) by linear interpolation; ``None`` when it never got
  there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Two-sided 95 % quantiles of Student's t by degrees of freedom (larger df: interpolated
#: in 1/df towards the normal 1.960).
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    30: 2.042,
    60: 2.000,
    120: 1.980,
}


def t_quantile_95(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a t interval needs at least two values (df >= 1)")
    if df in _T95:
        return _T95[df]
    known = sorted(_T95)
    if df > known[-1]:
        lo_df, lo_q, hi_inv, hi_q = known[-1], _T95[known[-1]], 0.0, 1.960
    else:
        lo_df = max(k for k in known if k < df)
        hi_df = min(k for k in known if k > df)
        lo_q, hi_inv, hi_q = _T95[lo_df], 1 / hi_df, _T95[hi_df]
    # Linear in 1/df, the usual interpolation for t tables.
    position = (1 / lo_df - 1 / df) / (1 / lo_df - hi_inv)
    return lo_q + position * (hi_q - lo_q)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95 % interval (``low == high == mean`` for a single value)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def format(self, digits: int = 2, scale: float = 1.0) -> str:
        if self.n < 2:
            return f"{self.mean * scale:.{digits}f} (1 seed)"
        return f"{self.mean * scale:.{digits}f} ± {self.half_width * scale:.{digits}f}"


def t_interval(values: Sequence[float]) -> Interval:
    """Mean and Student-t 95 % interval of ``values``."""
    if not values:
        raise ValueError("no values")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Interval(mean, mean, mean, len(values))
    half = t_quantile_95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half, len(values))


# --------------------------------------------------------------------------- teaching score


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float]) -> Interval:
    """mean(numerators) / mean(denominators) with Fieller's 95 % interval (paired values).

    The interval is every ratio ``r`` for which the paired differences
    ``numerator − r · denominator`` have a mean within their own t-interval of 0. It is
    bounded only when the denominators' mean is itself distinguishable from 0 (its
    t-interval excludes 0); otherwise it is ``(−inf, inf)``. With a constant denominator it
    is the t-interval of the per-value ratios.

    Raises:
        ValueError: no values, unequal lengths, or a denominator mean of 0.
    """
    if not numerators or len(numerators) != len(denominators):
        raise ValueError("a ratio interval needs as many numerators as denominators (>= 1)")
    num_mean, den_mean = statistics.fmean(numerators), statistics.fmean(denominators)
    if den_mean == 0:
        raise ValueError("the denominators' mean is 0: no ratio")
    ratio = num_mean / den_mean
    n = len(numerators)
    if n < 2:
        return Interval(ratio, ratio, ratio, n)
    q = t_quantile_95(n - 1) ** 2 / n
    # (num_mean − r·den_mean)² ≤ q·Var(num − r·den): a quadratic a·r² − 2b·r + c ≤ 0.
    a = den_mean**2 - q * statistics.variance(denominators)
    b = num_mean * den_mean - q * statistics.covariance(numerators, denominators)
    c = num_mean**2 - q * statistics.variance(numerators)
    if a <= 0:  # the denominator's interval holds 0: every ratio (or two rays) is consistent
        return Interval(ratio, -math.inf, math.inf, n)
    root = math.sqrt(max(b * b - a * c, 0.0))  # >= 0 in exact arithmetic: ratio is inside
    return Interval(ratio, (b - root) / a, (b + root) / a, n)


@dataclass(frozen=True)
class NormalizedScore:
    """An agent's normalized teaching score in one setting.

    Attributes:
        score: Ratio of means over the seeds with all three runs and its Fieller interval
            (unbounded when the gap is within seed noise); ``None`` when the setting cannot
            tell agents apart (see ``reason``) or no seed has all three runs.
        gap: The setting's oracle gain minus no-state gain, mean over the seeds that have
            both reference runs (:func:`reference_gap`).
        reason: Why there is no score, else ``""``.
    """

    score: Interval | None
    gap: float
    reason: str = ""

    @property
    def bounded(self) -> bool:
        return self.score is not None and math.isfinite(self.score.half_width)

    def format(self) -> str:
        if self.score is None:
            return self.reason
        score = self.score
        if score.n < 2:
            return score.format(2)
        if not self.bounded:
            return f"{score.mean:.2f} [unbounded]"
        return f"{score.mean:.2f} [{score.low:.2f}, {score.high:.2f}]"


def reference_gap(no_state: Mapping[int, float], oracle: Mapping[int, float]) -> Interval | None:
    """Oracle gain minus no-state gain, seed by seed, with its t-interval: whether a setting
    separates its references by more than seed noise. ``None`` without a shared seed.

    Only seeds that have both references count: a seed with a no-state run but no oracle
    run yet would otherwise pull the gap towards that seed's no-state gain alone.
    """
    # Measured: one such seed made a gap of 3.4 points 0.1 and a score of 10 ± 157.
    shared = sorted(set(oracle) & set(no_state))
    return t_interval([oracle[s] - no_state[s] for s in shared]) if shared else None


def normalized_score(
    agent: Mapping[int, float],
    no_state: Mapping[int, float],
    oracle: Mapping[int, float],
    *,
    min_gap: float = 0.0,
) -> NormalizedScore:
    """The normalized teaching score from test gains per seed.

    Args:
        agent: Seed -> the agent's gain.
        no_state: Seed -> the no-state agent's gain (the 0 of the scale).
        oracle: Seed -> the oracle's gain (the 1 of the scale).
        min_gap: The oracle must beat no-state by more than this for a score.
    """
    if not no_state or not oracle:
        return NormalizedScore(None, math.nan, "no reference runs")
    gap = reference_gap(no_state, oracle)
    if gap is None:
        return NormalizedScore(None, math.nan, "no seed with both reference runs")
    if gap.mean <= min_gap:
        return NormalizedScore(None, gap.mean, "cannot tell agents apart")
    seeds = sorted(set(agent) & set(no_state) & set(oracle))
    if not seeds:
        return NormalizedScore(None, gap.mean, "no seed shared with both references")
    own_gaps = [oracle[s] - no_state[s] for s in seeds]
    if statistics.fmean(own_gaps) <= min_gap:
        # Possible when the agent ran on fewer seeds than the references.
        return NormalizedScore(None, gap.mean, "cannot tell agents apart on its seeds")
    gains = [agent[s] - no_state[s] for s in seeds]
    return NormalizedScore(ratio_interval(gains, own_gaps), gap.mean)


# --------------------------------------------------------------------------- data efficiency


def accuracy_curve(summary: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(training data so far, test accuracy) from ``summary.json``: the base point, then every
    iteration whose test accuracy was measured."""
    points = [(0.0, float(summary["initial"]["test_accuracy"]))]
    for row in summary["iterations"]:
        if row.get("test_measured", True) and "test_accuracy" in row:
            points.append((float(row["num_total_data"]), float(row["test_accuracy"])))
    return points


def data_to_reach(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The data at which ``curve`` first reaches ``target`` (linear between points)."""
    previous: tuple[float, float] | None = None
    for data, accuracy in curve:
        if accuracy >= target:
            if previous is None or previous[1] >= target:
                return data
            (d0, a0), (d1, a1) = previous, (data, accuracy)
            return d0 + (target - a0) / (a1 - a0) * (d1 - d0)
        previous = (data, accuracy)
    return None


def data_efficiency(agent: Mapping[str, Any], no_state: Mapping[str, Any]) -> float | None:
    """Data the agent needed to reach no-state's final test accuracy, over no-state's data.

    Both arguments are ``summary.json`` dicts (same setting and seed). Below 1: the agent
    needed less data. ``None``: it never reached that accuracy.
    """
    target = float(no_state["final"]["test_accuracy"])
    needed = data_to_reach(accuracy_curve(agent), target)
    baseline = float(no_state["total_training_data"])
    if needed is None:
        return None
    if baseline <= 0:
        raise ValueError("the no-state run trained on no data")
    return needed / baseline


@dataclass(frozen=True)
class Efficiency:
    """Data efficiency over seeds: the interval over seeds that reached the target."""

    reached: int
    seeds: int
    interval: Interval | None

    def format(self) -> str:
        if self.interval is None:
            return f"not reached (0/{self.seeds})"
        interval = self.interval
        text = f"{interval.mean:.2f}" if interval.n < 2 else interval.format(2)
        return text if self.reached == self.seeds else f"{text} ({self.reached}/{self.seeds})"


def efficiency_over_seeds(values: Sequence[float | None]) -> Efficiency:
    """Aggregate per-seed data efficiencies (``None``: not reached)."""
    reached = [v for v in values if v is not None]
    return Efficiency(len(reached), len(values), t_interval(reached) if reached else None)
