from __future__ import annotations

import math

import pytest

from dataenvgym.agents.allocation import (
    AllocationConfig,
    UnitHistory,
    allocate,
    largest_remainder,
    softmax,
    uniform,
    unit_scores,
    variance_gap,
    zpd,
)


def test_largest_remainder_sums_exactly() -> None:
    counts = largest_remainder({"a": 1.0, "b": 1.0, "c": 1.0}, 10)
    assert sum(counts.values()) == 10 and max(counts.values()) - min(counts.values()) <= 1
    assert uniform(["x", "y"], 0) == {"x": 0, "y": 0}


def test_zpd_is_zero_when_mastered_and_when_nothing_is_right() -> None:
    assert zpd(1.0, 1.0) == 0.0
    assert zpd(0.0, 0.0) == 0.0
    # partial credit alone does not make a unit "in reach": digits right by chance
    assert zpd(0.0, 0.6) == 0.0
    # among units that solve some items, partial credit breaks ties, headroom counts
    assert zpd(0.3, 0.7) > zpd(0.3, 0.4) > 0.0
    assert zpd(0.5, 0.8) > zpd(0.9, 0.95)


def _history(accuracy: list[float], partial: list[float], data: list[int]) -> UnitHistory:
    return UnitHistory(accuracy=accuracy, partial=partial, data=data)


def test_progress_wins_over_stuck_and_mastered_units() -> None:
    histories = {
        "learnable": _history([0.2, 0.5], [0.5, 0.7], [50]),
        "stuck": _history([0.0, 0.0], [0.3, 0.3], [50]),
        "mastered": _history([0.98, 0.99], [0.99, 0.99], [50]),
    }
    counts = allocate(histories, 100)
    assert sum(counts.values()) == 100
    assert counts["learnable"] > 60
    assert counts["stuck"] < 15 and counts["mastered"] < 15
    # the floor keeps every unit fed
    assert min(counts.values()) >= int(100 * AllocationConfig().floor / 3)


def test_untried_units_get_an_optimistic_share() -> None:
    histories = {
        "untried": _history([0.3], [0.6], []),
        "stalled": _history([0.3, 0.3], [0.6, 0.6], [40]),
    }
    counts = allocate(histories, 100)
    assert counts["untried"] > counts["stalled"]


def test_all_mastered_falls_back_to_uniform() -> None:
    histories = {k: _history([1.0], [1.0], []) for k in "abcd"}
    assert allocate(histories, 40) == {k: 10 for k in "abcd"}


def test_a_unit_being_forgotten_counts_as_moving() -> None:
    histories = {
        "forgotten": _history([0.99, 0.8], [0.99, 0.9], [30]),
        "flat": _history([0.5, 0.5], [0.7, 0.7], [30]),
    }
    counts = allocate(histories, 100)
    assert counts["forgotten"] > counts["flat"]


def test_a_share_cap_spreads_the_excess_over_the_other_units() -> None:
    histories = {
        "rising": _history([0.2, 0.6], [0.5, 0.8], [25]),
        **{k: _history([0.9, 0.9], [0.95, 0.95], [25]) for k in ("a", "b", "c")},
    }
    uncapped = allocate(histories, 100)
    capped = allocate(histories, 100, AllocationConfig(max_fair_shares=1.6))
    assert uncapped["rising"] > 40  # the cap below really binds
    assert sum(capped.values()) == 100
    assert capped["rising"] == 40  # 1.6 × a fair share of 25
    # the excess went to the others, which keep their order among themselves
    assert all(capped[k] > uncapped[k] for k in "abc")


def test_a_plateaued_unit_that_fits_its_own_data_gets_more_than_one_that_cannot() -> None:
    # Both sit at 0.05 on validation and did not move: progress × zpd sees them alike.
    plateau = ([0.05, 0.05], [0.2, 0.2], [40])
    histories = {
        "fits": UnitHistory(*plateau, fit=1.0),  # learns its data, does not generalize yet
        "cannot": UnitHistory(*plateau, fit=0.0),  # out of reach: fits none of its data
        "learning": _history([0.3, 0.5], [0.5, 0.7], [40]),
    }
    counts = allocate(histories, 300)
    assert counts["fits"] > counts["cannot"]
    assert counts["learning"] > counts["cannot"]
    blind = allocate(histories, 300, AllocationConfig(variance_weight=0.0))
    assert blind["fits"] == blind["cannot"]
    # Fitting no better than validation says nothing: the term is a gap, not the fit.
    assert variance_gap(0.6, 0.6) == 0.0 and variance_gap(0.6, 0.4) == 0.0
    assert variance_gap(0.0, 1.0) > variance_gap(0.5, 1.0) > variance_gap(0.9, 1.0)


FAIR_TRIAL = AllocationConfig(tried_after_fair_shares=1.0, explore_gate=0.3)


def test_a_fair_trial_feeds_a_unit_at_exact_match_zero_until_it_had_its_share() -> None:
    first_step = {
        "zero": _history([0.0], [0.1], []),
        "halfway": _history([0.3], [0.5], []),
        "mastered": _history([1.0], [1.0], []),
    }
    gated = allocate(first_step, 120)
    fair = allocate(first_step, 120, FAIR_TRIAL)
    floor_only = int(120 * AllocationConfig().floor / 3) + 1
    # Gated by reach, exact match 0 means the floor alone; a fair trial gives it real data.
    assert gated["zero"] <= floor_only < fair["zero"]
    assert fair["zero"] >= 0.8 * fair["halfway"]
    assert fair["mastered"] <= floor_only
    # Fed only the floor, it has not been tried yet: it keeps its explorer's share.
    starved = {
        "zero": _history([0.0, 0.0], [0.1, 0.1], [8]),
        "learning": _history([0.3, 0.5], [0.5, 0.6], [40]),
    }
    assert allocate(starved, 100, FAIR_TRIAL)["zero"] > allocate(starved, 100)["zero"]
    # Given its fair share without moving, progress judges it: back to the floor.
    tried = {
        "zero": _history([0.0, 0.0], [0.1, 0.1], [50]),
        "learning": _history([0.3, 0.5], [0.5, 0.6], [40]),
    }
    assert allocate(tried, 100, FAIR_TRIAL)["zero"] <= int(100 * FAIR_TRIAL.floor / 2) + 1


def test_without_a_fair_trial_the_allocation_is_the_gated_rule() -> None:
    # The knobs' defaults keep the rule that Skill-Tree and the oracle's candidate use, to
    # the last bit (their finished runs on the board stay valid).
    histories = {
        "a": _history([0.1, 0.2], [0.3, 0.4], [3]),
        "b": _history([0.4], [0.6], []),
        "c": _history([0.0], [0.0], []),
    }
    rule = AllocationConfig()
    assert rule.tried_after_fair_shares == 0.0 and rule.explore_gate is None
    expected = {"a": 0.1 * zpd(0.2, 0.4), "b": 0.1 * zpd(0.4, 0.6), "c": 0.0}
    assert unit_scores(histories, rule) == expected


def test_softmax_shares_sum_to_one_without_overflow() -> None:
    shares = softmax({"a": 1000.0, "b": 1000.0 + math.log(3.0), "c": -1000.0})
    assert shares["b"] == pytest.approx(0.75) and shares["a"] == pytest.approx(0.25)
    assert shares["c"] == 0.0 and sum(shares.values()) == pytest.approx(1.0)
    assert softmax({}) == {}
