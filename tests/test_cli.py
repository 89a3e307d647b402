"""The command line: a tiny episode end to end, listing, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.numerics import is_x86

runner = CliRunner()


def _tiny_config(tmp_path: Path, tiny_student: dict[str, Any]) -> Path:
    config = {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 5},
        "student_config": tiny_student,
        "pretrain": {"steps": 10, "examples": 300},
        "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_writes_the_run_folder_and_prints_the_table(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "run",
            "--config",
            str(_tiny_config(tmp_path, tiny_student)),
            "--env",
            "skill-list",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "test before" in result.output and "subtraction/borrow" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "skill-list" and summary["agent"] == "with-state"
    assert {"val_accuracy", "test_accuracy", "test_per_skill"} <= set(summary["initial"])
    assert [row["iteration"] for row in summary["iterations"]] == [1, 2]
    assert summary["total_training_data"] == summary["iterations"][-1]["num_total_data"]
    for row in summary["iterations"]:
        assert 0.0 <= row["val_accuracy"] <= 1.0
    data_lines = (out / "iteration_001" / "data.jsonl").read_text().splitlines()
    assert len(data_lines) == summary["iterations"][0]["num_new_data"]
    assert yaml.safe_load((out / "config.yaml").read_text())["env"] == "skill-list"
    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert events == ["reset", "step", "step", "end"]


def test_existing_run_folder_is_not_overwritten(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    result = runner.invoke(
        app, ["run", "--config", str(_tiny_config(tmp_path, tiny_student)), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert (out / "summary.json").read_text() == "{}"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("iterations: [1,\n")
    cases = [
        (["run", "--env", "nope"], "env"),
        (["run", "--agent", "oracle-of-delphi"], "unknown agent"),
        (["run", "--domain", "poetry"], "unknown domain"),
        (["run", "--config", str(broken)], "not valid YAML"),
        (["run", "--config", str(tmp_path / "missing.yaml")], "does not exist"),
        (["run", "--budget", "0"], "budget"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_list_shows_every_component() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for text in ("dataenvgym/Arithmetic-SkillTree-v0", "with-state", "no-state", "tiny"):
        assert text in result.output


@pytest.mark.skipif(not is_x86(), reason="the AVX2 cap is for x86 machines")
def test_run_computes_with_the_numerics_asked_for(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    config = str(_tiny_config(tmp_path, tiny_student))
    base = ["run", "--config", config, "--iterations", "1", "--no-report"]
    # This test session starts with the caps (conftest): native needs a fresh process.
    native = runner.invoke(app, [*base, "--out", str(tmp_path / "native"), "--numerics", "native"])
    assert native.exit_code == 0, native.output
    portable = runner.invoke(app, [*base, "--out", str(tmp_path / "p"), "--numerics", "portable"])
    assert portable.exit_code == 0, portable.output
    numerics = {
        name: json.loads((tmp_path / name / "summary.json").read_text())["numerics"]
        for name in ("native", "p")
    }
    assert "caps" not in numerics["native"]
    assert numerics["p"]["cpu_capability"] == "AVX2" and "avx2" in numerics["p"]["caps"]
    bad = runner.invoke(app, [*base, "--numerics", "fast"])
    assert bad.exit_code == 2 and "portable or native" in bad.output
