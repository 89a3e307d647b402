"""The unit-tilt benchmark's allocation and its own / others / net effects."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


def test_a_tilted_step_spends_the_budget_and_gives_the_unit_its_fair_shares(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("unit_tilt")
    keys = [f"s/u{i}" for i in range(10)]
    uniform = bench.tilted(keys, 384, None, 3.0)
    assert sum(uniform.values()) == 384 and max(uniform.values()) - min(uniform.values()) <= 1
    tilted = bench.tilted(keys, 384, "s/u3", 3.0)
    assert sum(tilted.values()) == 384
    assert tilted["s/u3"] == round(3 * 384 / 10)
    others = [n for k, n in tilted.items() if k != "s/u3"]
    assert max(others) - min(others) <= 1 and max(others) < uniform["s/u0"]
    # more than the whole budget is capped at the whole budget
    assert bench.tilted(keys, 384, "s/u3", 50.0)["s/u3"] == 384


def _row(seed: int, unit: str, per: dict[str, float]) -> dict[str, Any]:
    return {
        "domain": "arithmetic",
        "seed": seed,
        "unit": unit,
        "accuracy": sum(per.values()) / len(per),
        "per_subskill": per,
        "base_per_subskill": {"a/x": 0.2, "a/y": 0.9, "a/z": 0.0},
    }


def test_effects_are_changes_against_the_same_seeds_uniform_step(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("unit_tilt")
    rows = [
        _row(0, bench.UNIFORM, {"a/x": 0.4, "a/y": 0.9, "a/z": 0.0}),
        _row(0, "a/x", {"a/x": 0.7, "a/y": 0.8, "a/z": 0.0}),
        _row(1, bench.UNIFORM, {"a/x": 0.5, "a/y": 0.9, "a/z": 0.0}),
        _row(1, "a/x", {"a/x": 0.6, "a/y": 0.9, "a/z": 0.1}),
    ]
    effects = bench.effects(rows)
    assert set(effects) == {"a/x"}
    assert effects["a/x"]["own"] == pytest.approx([30.0, 10.0])
    assert effects["a/x"]["others"] == pytest.approx([-5.0, 5.0])
    assert effects["a/x"]["net"] == pytest.approx([20.0 / 3, 20.0 / 3])
    assert effects["a/x"]["base"] == [0.2, 0.2]
    assert "| a/x | 0.20 | +20.0 ± " in bench.table(rows)


def test_a_plan_is_a_name_and_non_negative_weights(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("unit_tilt")
    assert bench.parse_plan('two={"a/x": 2, "a/y": 1.5}') == ("two", {"a/x": 2.0, "a/y": 1.5})
    for bad in ('{"a/x": 1}', '={"a/x": 1}', "p=[1]", 'p={"a/x": -1}', 'p={"a/x": 0}', "p={"):
        with pytest.raises(ValueError):
            bench.parse_plan(bad)
    with pytest.raises(ValueError, match="weight"):
        bench.parse_plan('p={"a/x": true}')


def test_a_plan_spends_the_budget_in_proportion_and_names_only_known_units(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("unit_tilt")
    keys = ["a/x", "a/y", "a/z"]
    counts = bench.planned(keys, 384, {"a/x": 2.0, "a/y": 1.0})
    assert counts == {"a/x": 256, "a/y": 128, "a/z": 0}
    assert sum(bench.planned(keys, 7, {"a/x": 1.0, "a/z": 1.0}).values()) == 7
    with pytest.raises(ValueError, match="a/w"):
        bench.planned(keys, 384, {"a/w": 1.0})


def test_plan_effects_split_fed_and_starved_units_against_the_uniform_step(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("unit_tilt")
    plan = _row(0, "", {"a/x": 0.8, "a/y": 0.7, "a/z": 0.0}) | {
        "unit": None,
        "plan": "x-only",
        "data": {"a/x": 384, "a/y": 0, "a/z": 0},
    }
    rows = [_row(0, bench.UNIFORM, {"a/x": 0.4, "a/y": 0.9, "a/z": 0.0}), plan]
    effects = bench.plan_effects(rows)
    assert effects["x-only"]["fed"] == pytest.approx([40.0])
    assert effects["x-only"]["starved"] == pytest.approx([-10.0])
    assert effects["x-only"]["net"] == pytest.approx([20.0 / 3])
    # plan rows are not tilts: the tilt table leaves them out
    assert bench.effects(rows) == {}
    table = bench.plan_table(rows, {"x-only": {"a/x": 1.0}})
    assert "| x-only | 1 | +40.0 | -10.0 | +6.7 |" in table
    # A plan that gives every unit something feeds only those above a fair share.
    tilted = plan | {"plan": "x-most", "data": {"a/x": 256, "a/y": 64, "a/z": 64}}
    effects = bench.plan_effects([rows[0], tilted])
    assert effects["x-most"]["units"] == [1]
    assert effects["x-most"]["fed"] == pytest.approx([40.0])
    assert effects["x-most"]["starved"] == pytest.approx([-10.0])
