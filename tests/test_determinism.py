"""The same seed gives the same episode; the seed reaches every random choice."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode

WALL_TIME_FIELDS = {"wall_seconds", "base_student_seconds"}


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k not in WALL_TIME_FIELDS}
    out["iterations"] = [
        {k: v for k, v in row.items() if k != "train_seconds"} for row in summary["iterations"]
    ]
    return out


def _episode(kwargs: dict[str, Any], seed: int, out: Path) -> tuple[dict[str, Any], Any]:
    env = make_env(**kwargs)
    agent = make_agent("with-state", kwargs["env"], env.domain)
    summary = run_episode(env, agent, seed=seed, out_dir=out)
    return summary, env


def test_same_seed_same_summary_and_data(tiny_kwargs: Any, tmp_path: Path) -> None:
    kwargs = tiny_kwargs("open-ended", trainer_config={"steps_per_iteration": 8})
    # Global RNGs drawn in between must not matter: everything is seeded from the run's seed.
    first, _ = _episode(kwargs, 7, tmp_path / "a")
    random.random(), torch.rand(3)
    second, _ = _episode(kwargs, 7, tmp_path / "b")
    assert _comparable(first) == _comparable(second)
    for name in ("iteration_001/data.jsonl", "iteration_002/data.jsonl"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_the_seed_reaches_splits_student_data_and_training(
    tiny_kwargs: Any, tmp_path: Path
) -> None:
    kwargs = tiny_kwargs("skill-list")
    a, env_a = _episode(kwargs, 1, tmp_path / "a")
    b, env_b = _episode(kwargs, 2, tmp_path / "b")
    # splits
    assert [i.prompt for i in env_a.validation] != [i.prompt for i in env_b.validation]
    # student initialisation (and pretraining): the base checkpoints differ
    weights_a = torch.load(env_a.base.checkpoint / "model.pt", weights_only=True)
    weights_b = torch.load(env_b.base.checkpoint / "model.pt", weights_only=True)
    assert any(not weights_a[k].equal(weights_b[k]) for k in weights_a)
    # data generation
    data_a = (tmp_path / "a" / "iteration_001" / "data.jsonl").read_text()
    assert data_a != (tmp_path / "b" / "iteration_001" / "data.jsonl").read_text()
    # training order: the same data and start, two seeds, two different students
    student = env_a.student
    start = {k: v.clone() for k, v in student.model.state_dict().items()}
    trained = []
    for seed in (1, 2):
        student.model.load_state_dict(start)
        student.fit(env_a.accumulated, steps=3, seed=seed)
        trained.append({k: v.clone() for k, v in student.model.state_dict().items()})
    assert any(not trained[0][k].equal(trained[1][k]) for k in start)
    assert _comparable(a) != _comparable(b)


@pytest.mark.slow
def test_the_seed_reaches_the_llm_seed_field(
    tiny_student: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dataenvgym.cli import app
    from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, ScriptedTeacher

    monkeypatch.setenv(TEST_KEY_ENV, "sk-test")
    cli = CliRunner()

    def seeds_sent(seed: int, out: str) -> list[Any]:
        with FakeOpenAIServer(ScriptedTeacher()) as server:
            config = tmp_path / "llm.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "env": "open-ended",
                        "iterations": 1,
                        "budget": 16,
                        "teacher": "openai:fake-model",
                        "base_url": server.base_url,
                        "trainer": {"steps_per_iteration": 2},
                        "student_config": tiny_student,
                        "pretrain": {"steps": 4, "examples": 200},
                        "domain_config": {"val_per_subskill": 4, "test_per_subskill": 4},
                        "llm": {"api_key_env": TEST_KEY_ENV, "timeout_s": 5.0},
                    }
                )
            )
            args = ["run", "--config", str(config), "--seed", str(seed), "--no-report"]
            result = cli.invoke(app, [*args, "--out", str(tmp_path / out)])
            assert result.exit_code == 0, result.output
            return [request.get("seed") for request in server.requests]

    first, again, other = seeds_sent(3, "a"), seeds_sent(3, "b"), seeds_sent(4, "c")
    assert first and all(isinstance(seed, int) for seed in first)
    assert sorted(first) == sorted(again)  # the same run seed, the same sampling seeds
    assert set(first).isdisjoint(other)  # another run seed, other sampling seeds
