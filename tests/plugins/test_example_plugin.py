"""The example plugin package (examples/textops), installed as a third party's would be.

scripts/setup.sh installs it (``pip install -e examples/textops``); these tests use it only
through its entry points and its module path, the routes a user has.
"""

from __future__ import annotations

import csv
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import yaml
from typer.testing import CliRunner

import dataenvgym
from dataenvgym.cli import app
from dataenvgym.registry import make_agent
from dataenvgym.runner import run_episode

runner = CliRunner()

DOMAIN_CONFIG = {"val_per_subskill": 6, "test_per_subskill": 6}


@pytest.fixture(autouse=True)
def _installed() -> None:
    names = {ep.name for ep in entry_points(group="dataenvgym.domains")}
    assert "textops" in names, "install the example plugin: pip install -e examples/textops"


def _base(tiny_student: dict[str, Any]) -> dict[str, Any]:
    return {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 5},
        "student_config": tiny_student,
        "pretrain": {"steps": 10, "examples": 300},
        "domain_config": DOMAIN_CONFIG,
    }


def _config(tmp_path: Path, settings: dict[str, Any]) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_whole_episode_through_the_cli_by_entry_point_name(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    out = tmp_path / "run"
    config = _config(tmp_path, _base(tiny_student))
    args = ["run", "--domain", "textops", "--config", str(config), "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-report"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["domain"] == "textops"
    assert len(summary["iterations"]) == 2
    assert set(summary["final"]["test_per_subskill"]) == {
        "count/letter",
        "count/vowels",
        "reverse/long",
        "reverse/short",
        "sort/digits",
        "sort/letters",
    }
    assert "reverse/short" in result.output


def test_module_factory_paths_for_domain_and_student(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    out = tmp_path / "run"
    settings = {**_base(tiny_student), "student": "textops-tiny", "env": "open-ended"}
    config = _config(tmp_path, settings)
    domain = "dataenvgym_textops.domain:make_domain"
    args = ["run", "--domain", domain, "--config", str(config), "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-report", "--agent", "no-state"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["domain"] == "textops" and summary["env"] == "open-ended"
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["domain"] == domain and saved["student"] == "textops-tiny"


def test_a_leaderboard_suite_of_the_plugin_domain(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite = {
        "name": "textops",
        "domains": ["textops"],
        "envs": ["skill-list"],
        "seeds": [0],
        "agents": ["with-state"],
        "base": _base(tiny_student),
    }
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    out = tmp_path / "board"
    result = runner.invoke(app, ["leaderboard", "--suite", str(suite_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert {row["agent"] for row in rows} == {"with-state", "no-state", "oracle"}
    assert {row["domain"] for row in rows} == {"textops"}


def test_gym_make_by_the_plugin_namespace_id(tiny_kwargs: Any) -> None:
    ids = dataenvgym.register_envs()
    assert "dataenvgym-plugins/textops-SkillTree-v0" in ids
    kwargs = tiny_kwargs("skill-tree")
    kwargs.pop("env"), kwargs.pop("domain")
    kwargs["domain_config"] = DOMAIN_CONFIG
    env = gym.make("dataenvgym-plugins/textops-SkillTree-v0", **kwargs)
    agent = make_agent("with-state", "skill-tree", env.unwrapped.domain)  # type: ignore[attr-defined]
    summary = run_episode(env, agent, seed=0)
    assert summary["domain"] == "textops" and len(summary["iterations"]) == 2


def test_list_shows_the_plugins_with_their_package() -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = [line.strip("│ ") for line in result.output.splitlines()]
    domain_row = next(row for row in rows if row.startswith("textops "))
    assert "dataenvgym-textops 0.1.0" in domain_row and "built in" not in domain_row
    student_row = next(row for row in rows if row.startswith("textops-tiny "))
    assert "dataenvgym_textops.student:make_student" in student_row
    assert "dataenvgym-plugins/textops-SkillList-v0" in result.output


def test_check_domain_passes_on_the_example_and_a_sweep_accepts_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check-domain", "textops"])
    assert result.exit_code == 0, result.output
    from dataenvgym.sweep import load_sweep

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump({"grid": {"domain": ["textops", "dataenvgym_textops.domain:make_domain"]}})
    )
    points = [cfg.domain for _, cfg in load_sweep(sweep).episodes()]
    assert points == ["textops", "dataenvgym_textops.domain:make_domain"]
