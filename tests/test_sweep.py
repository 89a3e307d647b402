"""Sweeps: the grid, the local and Ray executors, the comparison files, restarts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.errors import ConfigError
from dataenvgym.sweep import load_sweep, run_sweep

runner = CliRunner()


def _sweep_file(tmp_path: Path, tiny_student: dict[str, Any], **grid: list[Any]) -> Path:
    spec = {
        "name": "tiny",
        "base": {
            "iterations": 2,
            "budget": 30,
            "trainer": {"steps_per_iteration": 4},
            "student_config": tiny_student,
            "pretrain": {"steps": 6, "examples": 200},
            "domain_config": {"val_per_subskill": 5, "test_per_subskill": 5},
        },
        "grid": grid or {"env": ["skill-list", "skill-tree"], "seed": [0, 1]},
        "resources": {"cpus_per_episode": 1},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_grid_is_the_product_of_its_lists(tmp_path: Path, tiny_student: dict) -> None:
    agents = ["with-state", "no-state"]
    path = _sweep_file(tmp_path, tiny_student, env=["skill-list"], agent=agents, seed=[0, 1])
    episodes = load_sweep(path).episodes()
    assert [name for name, _ in episodes] == [
        "skill-list-with-state-s0",
        "skill-list-with-state-s1",
        "skill-list-no-state-s0",
        "skill-list-no-state-s1",
    ]
    assert {cfg.budget for _, cfg in episodes} == {30}


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"colour": ["red"]}, "not run settings"),
        ({"seed": []}, "has no values"),
        ({"budget": [0]}, "invalid sweep point"),
        ({"agent": ["delphi"]}, "unknown agent 'delphi'"),
    ],
)
def test_bad_sweep_files_are_one_line_errors(
    grid: dict[str, list[Any]], message: str, tmp_path: Path, tiny_student: dict
) -> None:
    path = _sweep_file(tmp_path, tiny_student, **grid)
    with pytest.raises(ConfigError, match=message):
        load_sweep(path)
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_local_sweep_writes_one_comparison_and_skips_finished_episodes(
    tmp_path: Path, tiny_student: dict
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(_sweep_file(tmp_path, tiny_student)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "mean ± standard error over seeds" in result.output
    rows = json.loads((out / "results.json").read_text())
    assert [(r["env"], r["seed"], r["status"]) for r in rows] == [
        ("skill-list", 0, "ok"),
        ("skill-list", 1, "ok"),
        ("skill-tree", 0, "ok"),
        ("skill-tree", 1, "ok"),
    ]
    for row in rows:
        summary = json.loads((Path(row["run_folder"]) / "summary.json").read_text())
        assert row["final_test"] == summary["final"]["test_accuracy"]
        assert row["gain"] == pytest.approx(row["final_test"] - row["initial_test"])
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header.startswith("env,seed,episode,status,initial_test,final_test,gain")

    # Started again, the sweep reads the finished episodes instead of running them.
    def stamp(row: dict[str, Any]) -> int:
        return (Path(row["run_folder"]) / "summary.json").stat().st_mtime_ns

    stamps = [stamp(row) for row in rows]
    again = run_sweep(load_sweep(tmp_path / "sweep.yaml"), out)
    assert [r["final_test"] for r in again] == [r["final_test"] for r in rows]
    assert [stamp(row) for row in again] == stamps


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install '.[ray]')"
)
def test_ray_sweep_matches_the_local_one(tmp_path: Path, tiny_student: dict) -> None:
    sweep = load_sweep(_sweep_file(tmp_path, tiny_student, agent=["with-state", "no-state"]))
    local = run_sweep(sweep, tmp_path / "local")
    on_ray = run_sweep(sweep, tmp_path / "ray", executor="ray", num_cpus=2)
    assert [r["status"] for r in on_ray] == ["ok", "ok"]
    # Same seeds, same settings: the executor must not change a single number.
    assert [r["final_test"] for r in on_ray] == [r["final_test"] for r in local]
    assert [r["final_val"] for r in on_ray] == [r["final_val"] for r in local]
    assert all(Path(r["run_folder"]).is_relative_to(tmp_path / "ray") for r in on_ray)
