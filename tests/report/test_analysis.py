"""The paper's analyses on run data whose gains are known by construction."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.report import analysis
from dataenvgym.report.run_data import IterationData, RunData, RunFolderError, find_runs

GROUP = "skill-tree / arithmetic / with-state"


def _scores(per_subskill: dict[str, float]) -> dict[str, Any]:
    return {
        "accuracy": sum(per_subskill.values()) / len(per_subskill),
        "per_subskill": per_subskill,
    }


def make_run(
    folder: Path,
    agent: str,
    seed: int,
    initial: dict[str, float],
    final: dict[str, float],
    data: dict[str, int],
    val: tuple[float, float] = (0.3, 0.5),
) -> RunData:
    """A one-iteration run: ``initial`` -> ``final`` test accuracy, ``data`` per subskill."""
    folder.mkdir(parents=True, exist_ok=True)
    start, end = _scores(initial), _scores(final)
    summary = {
        "env": "skill-tree",
        "domain": "arithmetic",
        "agent": agent,
        "seed": seed,
        "initial": {"test_accuracy": start["accuracy"], "test_per_subskill": initial},
        "final": {"test_accuracy": end["accuracy"], "test_per_subskill": final},
    }
    iterations = [
        IterationData(
            0, {"info": {"val_accuracy": val[0], "num_new_data": 0}, "test": start}, None, folder
        ),
        IterationData(
            1,
            {
                "info": {
                    "val_accuracy": val[1],
                    "num_new_data": sum(data.values()),
                    "data_per_subskill": data,
                },
                "test": end,
                "reward": val[1] - val[0],
            },
            {"kind": "skill_tree"},
            folder,
        ),
    ]
    return RunData(root=folder, summary=summary, config={}, iterations=iterations)


@pytest.fixture
def runs(tmp_path: Path) -> list[RunData]:
    return [
        make_run(
            tmp_path / "ws0",
            "with-state",
            0,
            {"a/x": 0.1, "a/y": 0.9, "b/z": 1.0},
            {"a/x": 0.5, "a/y": 1.0, "b/z": 0.8},
            {"a/x": 30, "a/y": 8, "b/z": 2},
        ),
        make_run(
            tmp_path / "ws1",
            "with-state",
            1,
            {"a/x": 0.15, "a/y": 0.5, "b/z": 0.3},
            {"a/x": 0.35, "a/y": 0.5, "b/z": 0.3},
            {"a/x": 10, "a/y": 10, "b/z": 20},
            val=(0.3, 0.7),
        ),
        make_run(
            tmp_path / "ns0",
            "no-state",
            0,
            {"a/x": 0.1, "a/y": 0.9, "b/z": 1.0},
            {"a/x": 0.2, "a/y": 0.9, "b/z": 1.0},
            {"a/x": 14, "a/y": 13, "b/z": 13},
        ),
    ]


def _row(table: analysis.Table, **match: Any) -> dict[str, Any]:
    found = [r for r in table.as_dicts() if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, table.as_dicts())
    return found[0]


def test_gain_by_difficulty_bins_initial_accuracy_and_keeps_1_0_in_the_last_bin(
    runs: list[RunData],
) -> None:
    table = analysis.gain_by_difficulty(runs)
    hardest = _row(table, group=GROUP, bin="[0.0, 0.2)")
    assert hardest["subskills"] == 2  # a/x in both seeds
    assert hardest["mean gain"] == pytest.approx((0.4 + 0.2) / 2)
    assert hardest["std gain"] == pytest.approx(math.sqrt(2 * 0.1**2))  # sample std
    easiest = _row(table, group=GROUP, bin="[0.8, 1.0]")
    assert easiest["subskills"] == 2  # a/y at 0.9 and b/z at exactly 1.0
    assert easiest["mean gain"] == pytest.approx((0.1 - 0.2) / 2)
    assert {r["bin"] for r in table.as_dicts() if r["group"] == GROUP} == {
        "[0.0, 0.2)",
        "[0.2, 0.4)",
        "[0.4, 0.6)",
        "[0.8, 1.0]",
    }


def test_gain_by_frequency_bins_each_subskills_share_of_the_data(runs: list[RunData]) -> None:
    table = analysis.gain_by_frequency(runs)
    top = _row(table, group=GROUP, bin="20–100%")
    # seed 0: a/x 75 %, a/y 20 %; seed 1: a/x 25 %, a/y 25 %, b/z 50 %
    assert top["subskills"] == 5
    low = _row(table, group=GROUP, bin="5–10%")
    assert low["subskills"] == 1 and low["mean gain"] == pytest.approx(-0.2)  # b/z, 2 of 40


def test_compare_teachers_pairs_seeds_with_the_baseline(runs: list[RunData]) -> None:
    table = analysis.compare_teachers(runs)
    with_state = _row(table, group=GROUP)
    finals = [r.summary["final"]["test_accuracy"] for r in runs]
    assert with_state["seeds"] == 2
    assert with_state["final test"] == pytest.approx((finals[0] + finals[1]) / 2)
    # only seed 0 has a no-state run to pair with
    assert with_state["vs no-state"] == pytest.approx(finals[0] - finals[2])
    assert with_state["vs no-state std"] == 0.0
    baseline = _row(table, group="skill-tree / arithmetic / no-state")
    assert math.isnan(baseline["vs no-state"])


def test_dynamics_averages_each_iteration_over_seeds(runs: list[RunData]) -> None:
    table = analysis.dynamics(runs)
    step1 = _row(table, group=GROUP, iteration=1)
    assert step1["seeds"] == 2
    assert step1["val acc"] == pytest.approx(0.6)
    assert step1["reward"] == pytest.approx(0.3)
    assert step1["reward std"] == pytest.approx(math.sqrt(2 * 0.1**2))
    assert step1["new data"] == 40
    assert math.isnan(_row(table, group=GROUP, iteration=0)["reward"])


def test_per_subskill_gain_has_a_column_per_group(runs: list[RunData]) -> None:
    table = analysis.per_subskill_gain(runs)
    row = _row(table, subskill="a/x")
    assert row[GROUP] == pytest.approx(0.3)
    assert row["skill-tree / arithmetic / no-state"] == pytest.approx(0.1)


def test_llm_usage_reads_the_teachers_file_or_else_the_iterations(runs: list[RunData]) -> None:
    run = runs[0]
    assert analysis.llm_usage(run) is None
    cell = {"calls": 3, "cache_hits": 1, "prompt_tokens": 300, "completion_tokens": 50}
    run.usage = {
        "teacher": "openai:some-model",
        "usage": {
            "by_iteration_role": {
                "1": {"policy": cell, "engine": {**cell, "calls": 7, "failures": 1}},
                "untagged": {"skill_discovery": cell},
            }
        },
    }
    table = analysis.llm_usage(run)
    assert table is not None and "openai:some-model" in table.note
    rows = table.as_dicts()
    assert [(r["iteration"], r["role"]) for r in rows] == [
        ("untagged", "skill_discovery"),
        ("1", "engine"),
        ("1", "policy"),
        ("all", "all"),
    ]
    assert rows[-1]["calls"] == 13 and rows[-1]["prompt_tokens"] == 900
    assert rows[-1]["failures"] == 1
    run.usage = None
    run.iteration_usage = {1: {"iteration": 1, "usage_by_role": {"engine": cell}}}
    fallback = analysis.llm_usage(run)
    assert fallback is not None and fallback.as_dicts()[-1]["completion_tokens"] == 50


def _val(path: Path, items: list[tuple[str, str, str, bool]]) -> None:
    with (path / "val_results.jsonl").open("w") as handle:
        for ident, subskill, prediction, correct in items:
            inst = {
                "id": ident,
                "prompt": f"{ident}=",
                "answer": "1",
                "skill": "a",
                "subskill": subskill,
            }
            handle.write(
                json.dumps(
                    {"instance": inst, "prediction": prediction, "correct": correct, "partial": 0.0}
                )
                + "\n"
            )


def test_errors_before_after_shows_fixed_errors_first(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "with-state", 0, {"a/x": 0.0}, {"a/x": 1.0}, {"a/x": 1})
    first, last = tmp_path / "i0", tmp_path / "i1"
    first.mkdir()
    last.mkdir()
    run.iterations[0].path, run.iterations[1].path = first, last
    _val(first, [("q1", "x", "0", False), ("q2", "y", "0", False), ("q3", "x", "1", True)])
    _val(last, [("q1", "x", "0", False), ("q2", "y", "1", True), ("q3", "x", "0", False)])
    rows = analysis.errors_before_after(run).as_dicts()
    assert [(r["prompt"], r["fixed"]) for r in rows] == [("q2=", True), ("q1=", False)]
    assert rows[0]["before"] == "0" and rows[0]["after"] == "1"


def test_test_scores_of_unmeasured_iterations_are_left_out(runs: list[RunData]) -> None:
    run = runs[0]
    run.iterations[1].report["test_measured"] = False
    assert run.test_accuracy()[1] is None
    assert all(math.isnan(row[1]) for row in run.accuracy_matrix("test"))


def test_find_runs_reads_folders_of_runs_and_names_what_is_missing(
    tiny_runs: list[Path], tmp_path: Path
) -> None:
    found = find_runs([tiny_runs[0].parent])
    assert sorted(r.root for r in found) == sorted(tiny_runs)
    with pytest.raises(RunFolderError, match="no finished run"):
        find_runs([tmp_path])
    with pytest.raises(RunFolderError, match="does not exist"):
        find_runs([tmp_path / "nope"])
