from __future__ import annotations

from pathlib import Path

import pytest

from dataenvgym.agents.learned.cem import CEMConfig, load_state, train_cem
from dataenvgym.errors import ConfigError

TARGET = [1.5, -2.0, 0.5]


def quadratic(candidates: list[list[float]], generation: int) -> list[float]:
    return [-sum((x - t) ** 2 for x, t in zip(c, TARGET, strict=True)) for c in candidates]


def test_cem_finds_the_maximum_of_a_quadratic() -> None:
    config = CEMConfig(generations=30, population=16, elite=4, init_std=2.0, min_std=0.05)
    state = train_cem(quadratic, names=["a", "b", "c"], init_mean=[0, 0, 0], config=config)
    assert state.mean == pytest.approx(TARGET, abs=0.1)
    assert state.history[-1].mean_return > state.history[0].mean_return
    assert state.episodes == 30 * 17


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    def run(path: Path, generations: int) -> None:
        train_cem(
            quadratic,
            names=["a", "b", "c"],
            init_mean=[0, 0, 0],
            config=CEMConfig(generations=generations, population=6, elite=2, seed=3),
            checkpoint=path,
            settings={"what": "quadratic"},
        )

    run(tmp_path / "straight.json", 3)
    run(tmp_path / "resumed.json", 2)
    first = load_state(tmp_path / "resumed.json")
    assert first is not None and first.generation == 2
    run(tmp_path / "resumed.json", 3)
    straight, resumed = (
        load_state(tmp_path / "straight.json"),
        load_state(tmp_path / "resumed.json"),
    )
    assert straight is not None and resumed is not None
    assert resumed.generation == 3
    assert resumed.mean == straight.mean and resumed.std == straight.std
    assert [g.returns for g in resumed.history] == [g.returns for g in straight.history]
    assert resumed.history[:2] == first.history  # the first two generations were not redone


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cem.json"
    config = CEMConfig(generations=1, population=4, elite=2)
    train_cem(quadratic, names=["a", "b", "c"], init_mean=[0, 0, 0], config=config, checkpoint=path)
    with pytest.raises(ConfigError, match="other settings"):
        train_cem(
            quadratic,
            names=["a", "b", "c"],
            init_mean=[0, 0, 0],
            config=config.model_copy(update={"population": 5}),
            checkpoint=path,
        )
