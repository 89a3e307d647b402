from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import yaml

import dataenvgym  # noqa: F401  (registers the ids)
from dataenvgym.config import RunConfig, load_config
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.training import ContinueTrainer, TrainerConfig


def test_tiny_vqa_gets_its_episode_defaults_and_explicit_settings_win() -> None:
    vqa = RunConfig(domain="vqa")
    assert (vqa.student, vqa.budget, vqa.trainer.steps_per_iteration) == ("tiny-vqa", 1536, 400)
    mine = RunConfig.model_validate(
        {"domain": "vqa", "budget": 96, "trainer": {"replay_ratio": 0.25}}
    )
    assert (mine.budget, mine.trainer.steps_per_iteration, mine.trainer.replay_ratio) == (
        96,
        400,
        0.25,
    )
    built = RunConfig(domain="vqa", trainer=TrainerConfig(steps_per_iteration=7))
    assert built.trainer.steps_per_iteration == 7
    # Other students and domains keep the global defaults.
    assert RunConfig(domain="arithmetic").budget == 384
    assert RunConfig(domain="vqa", student="tiny").budget == 384


def test_a_saved_config_round_trips_with_the_defaults_resolved(tmp_path: Path) -> None:
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(RunConfig(domain="vqa").model_dump(mode="json")))
    assert load_config(saved) == RunConfig(domain="vqa")
    # An old run written with the global defaults stays what it was.
    old = RunConfig.model_validate(
        {"domain": "vqa", "budget": 384, "trainer": {"steps_per_iteration": 150}}
    )
    saved.write_text(yaml.safe_dump(old.model_dump(mode="json")))
    assert load_config(saved).budget == 384
    assert load_config(saved).trainer.steps_per_iteration == 150


def test_the_gymnasium_id_uses_the_same_episode_defaults() -> None:
    env = gym.make("dataenvgym/VQA-SkillTree-v0").unwrapped
    assert isinstance(env, TeacherEnv)
    assert env.config.budget_per_iteration == 1536
    assert isinstance(env.trainer, ContinueTrainer)
    assert env.trainer.config.steps_per_iteration == 400
    smaller = gym.make("dataenvgym/VQA-SkillTree-v0", env_config={"budget_per_iteration": 32})
    assert isinstance(smaller.unwrapped, TeacherEnv)
    assert smaller.unwrapped.config.budget_per_iteration == 32
