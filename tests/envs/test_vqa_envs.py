"""The VQA env ids: each of the three environments runs a step with the offline teachers."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import dataenvgym  # noqa: F401  (registers the ids)
from dataenvgym.config import RunConfig
from dataenvgym.envs.registration import env_id
from dataenvgym.registry import make_agent, make_env
from dataenvgym.students.vqa_factory import VQAStudentFactory

TINY_VQA: dict[str, Any] = {
    "student_config": {
        "channels": (8, 8, 16, 16),
        "word_dim": 16,
        "question_dim": 32,
        "hidden_dim": 32,
        "batch_size": 16,
    },
    "pretrain_config": {"steps": 4, "examples": 140},
    "domain_config": {"val_per_subskill": 3, "test_per_subskill": 2},
    "env_config": {"budget_per_iteration": 42, "max_iterations": 1},
    "trainer_config": {"steps_per_iteration": 3},
}


def test_vqa_runs_default_to_the_vqa_student() -> None:
    assert RunConfig(domain="vqa").student == "tiny-vqa"
    assert RunConfig().student == "tiny"
    env = make_env("skill-list", "vqa", **TINY_VQA)
    assert isinstance(env.student_factory, VQAStudentFactory)


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_each_environment_takes_a_step_with_the_offline_teacher(env_name: str) -> None:
    gid = env_id(env_name, "vqa")
    assert gid.startswith("dataenvgym/VQA-") and gid in gym.registry
    env = gym.make(gid, **TINY_VQA)
    teacher_env: Any = env.unwrapped
    observation, info = env.reset(seed=0)
    assert info["val_accuracy"] == observation.val_accuracy
    agent = make_agent("with-state", env_name, teacher_env.domain)
    agent.reset(0)
    action = agent.act(observation)
    assert action.data and all(d.domain == "vqa" for d in action.data)
    observation, reward, _, truncated, info = env.step(action)
    assert truncated and info["num_new_data"] > 0
    assert info["dropped"]["failed_verification"] == 0
    assert -1.0 <= float(reward) <= 1.0
    assert teacher_env.evaluate_test().report.count == 14 * 2
