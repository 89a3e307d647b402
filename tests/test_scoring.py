from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from dataenvgym.scoring import (
    accuracy_curve,
    data_efficiency,
    data_to_reach,
    efficiency_over_seeds,
    normalized_score,
    ratio_interval,
    t_interval,
    t_quantile_95,
)


def _summary(initial: float, points: list[tuple[int, float]], **extra: Any) -> dict[str, Any]:
    return {
        "initial": {"test_accuracy": initial},
        "final": {"test_accuracy": points[-1][1]},
        "total_training_data": points[-1][0],
        "iterations": [
            {"iteration": i + 1, "num_total_data": d, "test_accuracy": a, **extra}
            for i, (d, a) in enumerate(points)
        ],
    }


def test_t_quantiles_match_the_table_and_interpolate() -> None:
    assert t_quantile_95(2) == pytest.approx(4.303)
    assert t_quantile_95(11) == pytest.approx(2.201, abs=0.002)  # true value 2.201
    assert t_quantile_95(40) == pytest.approx(2.021, abs=0.002)  # true value 2.021
    assert 1.96 < t_quantile_95(1000) < 1.963
    with pytest.raises(ValueError):
        t_quantile_95(0)


def test_t_interval() -> None:
    values = [0.4, 0.6, 0.8]
    interval = t_interval(values)
    half = 4.303 * statistics.stdev(values) / math.sqrt(3)
    assert interval.mean == pytest.approx(0.6)
    assert (interval.low, interval.high) == pytest.approx((0.6 - half, 0.6 + half))
    single = t_interval([0.3])
    assert single.low == single.high == 0.3 and single.format() == "0.30 (1 seed)"


def _t_statistic(diffs: list[float]) -> float:
    return abs(statistics.fmean(diffs)) / (statistics.stdev(diffs) / math.sqrt(len(diffs)))


def test_ratio_interval_is_the_set_of_ratios_the_paired_differences_allow() -> None:
    numerators = [0.06, 0.09, 0.05, 0.07]
    denominators = [0.20, 0.15, 0.12, 0.17]
    interval = ratio_interval(numerators, denominators)
    assert interval.mean == pytest.approx(statistics.fmean(numerators) / 0.16)
    assert interval.low < interval.mean < interval.high
    t = t_quantile_95(3)

    def statistic(r: float) -> float:
        return _t_statistic([n - r * d for n, d in zip(numerators, denominators, strict=True)])

    # Fieller's bounds are where the differences' t statistic reaches the 95 % quantile;
    # inside it is below, outside above.
    assert statistic(interval.low) == pytest.approx(t, rel=1e-6)
    assert statistic(interval.high) == pytest.approx(t, rel=1e-6)
    assert statistic(interval.mean) < t
    assert statistic(interval.low - 0.05) > t and statistic(interval.high + 0.05) > t


def test_ratio_interval_with_a_constant_denominator_is_the_t_interval_of_the_ratios() -> None:
    numerators = [0.06, 0.09, 0.06]
    interval = ratio_interval(numerators, [0.15, 0.15, 0.15])
    expected = t_interval([n / 0.15 for n in numerators])
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))


def test_ratio_interval_is_unbounded_when_the_denominator_is_within_noise() -> None:
    denominators = [0.04, -0.01, 0.03]  # mean +0.02, t-interval holds 0
    assert t_interval(denominators).low < 0
    interval = ratio_interval([0.01, 0.0, 0.01], denominators)
    assert interval.low == -math.inf and interval.high == math.inf
    assert ratio_interval([0.01], [0.02]).low == pytest.approx(0.5)  # one pair: no spread
    with pytest.raises(ValueError):
        ratio_interval([0.1, 0.2], [0.1, -0.1])
    with pytest.raises(ValueError):
        ratio_interval([0.1], [0.1, 0.2])


def test_normalized_score_is_a_ratio_of_paired_means() -> None:
    no_state = {0: 0.10, 1: 0.20, 2: 0.15}
    oracle = {0: 0.30, 1: 0.35, 2: 0.25}  # gaps 0.20, 0.15, 0.10: mean 0.15
    agent = {0: 0.16, 1: 0.29, 2: 0.21}  # per seed +0.06, +0.09, +0.06
    result = normalized_score(agent, no_state, oracle)
    assert result.gap == pytest.approx(0.15)
    assert result.score is not None and result.bounded
    assert result.score.mean == pytest.approx(0.07 / 0.15)
    expected = ratio_interval([0.06, 0.09, 0.06], [0.20, 0.15, 0.10])
    assert (result.score.low, result.score.high) == pytest.approx((expected.low, expected.high))
    assert result.format() == f"0.47 [{expected.low:.2f}, {expected.high:.2f}]"
    # The references themselves land on 0 and 1.
    assert normalized_score(no_state, no_state, oracle).score.mean == pytest.approx(0.0)  # type: ignore[union-attr]
    assert normalized_score(oracle, no_state, oracle).score.mean == pytest.approx(1.0)  # type: ignore[union-attr]


def test_normalized_score_says_when_the_gap_is_within_seed_noise() -> None:
    no_state = {0: 0.10, 1: 0.20, 2: 0.15}
    oracle = {0: 0.16, 1: 0.19, 2: 0.18}  # gaps +0.06, -0.01, +0.03
    result = normalized_score({0: 0.12, 1: 0.21, 2: 0.16}, no_state, oracle)
    assert result.score is not None and not result.bounded
    assert result.format() == f"{result.score.mean:.2f} [unbounded]"


@pytest.mark.parametrize("oracle_gain", [0.15, 0.10])
def test_no_score_when_the_oracle_does_not_beat_no_state(oracle_gain: float) -> None:
    result = normalized_score({0: 0.3}, {0: 0.15, 1: 0.15}, {0: oracle_gain, 1: oracle_gain})
    assert result.score is None
    assert "cannot tell agents apart" in result.format()


def test_a_seed_without_both_references_counts_for_neither_gap_nor_score() -> None:
    # Seed 1 has a no-state run but its oracle has not finished: it must not enter the gap
    # (0.30 - mean(0.10, 0.29) would be 0.105) nor be scored against a gap it is not in.
    no_state = {0: 0.10, 1: 0.29}
    oracle = {0: 0.30}
    agent = {0: 0.20, 1: 0.35}
    result = normalized_score(agent, no_state, oracle)
    assert result.gap == pytest.approx(0.20)
    assert result.score is not None and result.score.n == 1
    assert result.score.mean == pytest.approx(0.5)
    assert normalized_score({1: 0.3}, no_state, oracle).reason.startswith("no seed shared")
    assert math.isnan(normalized_score(agent, {1: 0.1}, {0: 0.3}).gap)


def test_no_score_without_a_shared_seed() -> None:
    result = normalized_score({5: 0.3}, {0: 0.1}, {0: 0.3})
    assert result.score is None and "no seed" in result.reason


def test_data_to_reach_interpolates_between_iterations() -> None:
    curve = [(0.0, 0.30), (100.0, 0.40), (200.0, 0.60)]
    assert data_to_reach(curve, 0.50) == pytest.approx(150.0)
    assert data_to_reach(curve, 0.40) == pytest.approx(100.0)
    assert data_to_reach(curve, 0.20) == 0.0  # the base student is already there
    assert data_to_reach(curve, 0.61) is None
    # A dip does not count as reaching: the first crossing upwards does.
    assert data_to_reach([(0, 0.3), (100, 0.5), (200, 0.2), (300, 0.7)], 0.45) == pytest.approx(
        75.0
    )


def test_data_efficiency_against_no_state() -> None:
    no_state = _summary(0.30, [(100, 0.35), (200, 0.40), (300, 0.45), (400, 0.50)])
    faster = _summary(0.30, [(100, 0.40), (200, 0.55), (300, 0.60), (400, 0.62)])
    slower = _summary(0.30, [(100, 0.31), (200, 0.33), (300, 0.36), (400, 0.41)])
    # 0.50 is reached between 100 (0.40) and 200 (0.55): at 166.7 of no-state's 400.
    assert data_efficiency(faster, no_state) == pytest.approx((100 + 100 * 10 / 15) / 400)
    assert data_efficiency(no_state, no_state) == pytest.approx(1.0)
    assert data_efficiency(slower, no_state) is None
    summary = efficiency_over_seeds([0.5, None, 0.7])
    assert summary.reached == 2 and summary.format().endswith("(2/3)")
    assert efficiency_over_seeds([None, None]).format() == "not reached (0/2)"


def test_test_curve_skips_iterations_without_a_test() -> None:
    summary = _summary(0.3, [(100, 0.35), (200, 0.4)])
    summary["iterations"][0]["test_measured"] = False
    assert accuracy_curve(summary) == [(0.0, 0.3), (200.0, 0.4)]
