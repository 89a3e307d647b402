"""The code and tool-use domains in all three environments, with both offline agents."""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import pytest

import dataenvgym
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.registry import STUDENT_DEFAULTS, make_agent, make_env
from dataenvgym.runner import run_episode

DOMAINS = {"code": "Code", "tool-use": "ToolUse"}


def _kwargs(tiny_kwargs: Any, env: str, domain: str) -> dict[str, Any]:
    return tiny_kwargs(
        env,
        domain=domain,
        env_config={"budget_per_iteration": 48, "max_iterations": 2},
        domain_config={"val_per_subskill": 2, "test_per_subskill": 2},
        pretrain_config={"steps": 10, "examples": 200},
    )


def test_ids_are_registered_for_every_env() -> None:
    ids = dataenvgym.register_envs()
    for name in DOMAINS.values():
        for env in ("OpenEnded", "SkillList", "SkillTree"):
            assert f"dataenvgym/{name}-{env}-v0" in ids


def test_domain_defaults_reach_the_student_and_flags_override_them(tiny_kwargs: Any) -> None:
    env = make_env(**_kwargs(tiny_kwargs, "skill-list", "tool-use"))
    config = env.student_factory.config  # type: ignore[attr-defined]
    assert config.max_len == STUDENT_DEFAULTS[("tiny", "tool-use")]["student"]["max_len"]
    assert config.d_model == 32  # the run's own setting wins
    kwargs = _kwargs(tiny_kwargs, "skill-list", "tool-use")
    kwargs["student_config"] = {**kwargs["student_config"], "max_len": 128}
    assert make_env(**kwargs).student_factory.config.max_len == 128  # type: ignore[attr-defined]


CASES = [
    ("code", "skill-tree", "with-state"),
    ("code", "open-ended", "no-state"),
    ("tool-use", "skill-list", "with-state"),
    ("tool-use", "skill-tree", "no-state"),
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")
@pytest.mark.parametrize(("domain", "env_name", "agent_name"), CASES)
def test_an_episode_runs(domain: str, env_name: str, agent_name: str, tiny_kwargs: Any) -> None:
    kwargs = _kwargs(tiny_kwargs, env_name, domain)
    # Short answers keep the untrained student's decoding cheap; truncation is fine here.
    kwargs["student_config"] = {**kwargs["student_config"], "max_new_tokens": 12}
    kwargs["env_config"] = {**kwargs["env_config"], "data_accuracy_sample": 4}
    kwargs.pop("env"), kwargs.pop("domain")
    env_id = "".join(part.title() for part in env_name.split("-"))
    env = gym.make(f"dataenvgym/{DOMAINS[domain]}-{env_id}-v0", **kwargs)
    assert isinstance(env.unwrapped, TeacherEnv)
    agent = make_agent(agent_name, env_name, env.unwrapped.domain)
    summary = run_episode(env, agent, seed=0, test_every_iteration=False)
    assert len(summary["iterations"]) == 2
    first = summary["iterations"][0]
    # Procedural data are correct by construction, and verified: nothing fails.
    assert first["dropped"]["failed_verification"] == 0
    assert first["num_new_data"] > 0
    assert 0.0 <= summary["final"]["test_accuracy"] <= 1.0
