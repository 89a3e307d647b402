from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dataenvgym.agents.learned import train
from dataenvgym.agents.learned.agent import load_params
from dataenvgym.agents.learned.episodes import EpisodeSettings
from dataenvgym.cli import app


class FakeObjective:
    """Returns peaked at θ = 0 instead of episodes, so the command runs in a blink."""

    def __init__(self, settings: EpisodeSettings) -> None:
        self.settings = settings

    def __call__(self, candidates: Sequence[Sequence[float]], generation: int) -> list[float]:
        return [-sum(x * x for x in c) for c in candidates]

    def info(self, generation: int) -> dict[str, Any]:
        return {"episodes": [], "with_state_return": -1.0}


def test_train_teacher_writes_a_checkpoint_and_a_curve_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train, "EpisodeObjective", FakeObjective)
    out = tmp_path / "teacher"
    args = ["train-teacher", "--out", str(out), "--population", "4", "--elite", "2"]
    result = CliRunner().invoke(app, [*args, "--generations", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, [*args, "--generations", "2"])
    assert result.exit_code == 0, result.output
    curve = json.loads((out / "learning_curve.json").read_text())
    assert [g["generation"] for g in curve["generations"]] == [0, 1]
    assert (out / "learning_curve.md").exists() and (out / "learning_curve.png").exists()
    assert load_params(out / "checkpoint.json").floor == 0.2


def test_train_teacher_refuses_a_malformed_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train-teacher", "--settings", "arithmetic"])
    assert result.exit_code == 2
    assert "ENV/DOMAIN" in result.output
