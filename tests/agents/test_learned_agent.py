from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dataenvgym.agents.learned.agent import LEARNED_REVISION, load_params
from dataenvgym.agents.learned.policy import FEATURES, LearnedParams
from dataenvgym.config import RunConfig
from dataenvgym.errors import ConfigError
from dataenvgym.leaderboard.suite import current_revision
from dataenvgym.registry import AGENTS, make_agent, make_env


def test_the_shipped_checkpoint_loads() -> None:
    params = load_params()
    assert isinstance(params, LearnedParams)
    assert set(params.theta) == set(FEATURES)
    assert 0.0 <= params.floor <= 1.0


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "theta.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="learned-teacher checkpoint"):
        load_params(bad)
    with pytest.raises(ConfigError, match="learned-teacher checkpoint"):
        load_params(tmp_path / "missing.json")


@pytest.mark.parametrize("env", ["open-ended", "skill-list", "skill-tree"])
def test_the_built_in_agent_plans_a_real_observation_within_budget(
    env: str, tiny_kwargs: Any, first_plan_total: Any
) -> None:
    assert "learned" in AGENTS
    teacher_env = make_env(**tiny_kwargs(env))
    agent = make_agent("learned", env, teacher_env.domain)
    assert agent.name == "learned" and agent.revision == LEARNED_REVISION
    assert (
        current_revision(RunConfig.model_validate({"env": env, "agent": "learned"}))
        == LEARNED_REVISION
    )
    agent.reset(seed=0)
    observation, _ = teacher_env.reset(seed=0)
    action = agent.act(observation)
    budget = observation.budget_per_iteration
    assert len(action.data) == budget and first_plan_total(action) == budget
    observation, *_ = teacher_env.step(action)
    assert len(agent.act(observation).data) == budget  # a second plan reads the history
