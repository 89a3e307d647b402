from __future__ import annotations

from pathlib import Path

import pytest

from dataenvgym.agents.base import Agent
from dataenvgym.agents.policies import NoStatePolicy
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.errors import ConfigError
from dataenvgym.registry import check_names, make_agent

MODULE = """
from dataenvgym.agents.base import Agent
from dataenvgym.agents.policies import NoStatePolicy
from dataenvgym.agents.procedural import ProceduralEngine


def make_teacher(env, domain):
    return Agent(policy=NoStatePolicy(domain.skills()), engine=ProceduralEngine(domain))


def bare_policy(env, domain):
    return NoStatePolicy(domain.skills())


def not_an_agent(env, domain):
    return 42
"""


@pytest.fixture
def user_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module and an installed distribution that registers it as an entry point."""
    (tmp_path / "user_teachers.py").write_text(MODULE)
    dist = tmp_path / "user_teachers-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: user-teachers\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[dataenvgym.agents]\nmy-teacher = user_teachers:make_teacher\n"
        "broken = user_teachers:missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_point_agent(user_package: Path) -> None:
    check_names(domain="arithmetic", agent="my-teacher", student=None)
    agent = make_agent("my-teacher", "skill-list", ArithmeticDomain())
    assert isinstance(agent, Agent) and agent.name == "my-teacher" and not agent.privileged
    with pytest.raises(ConfigError, match="entry point 'broken'"):
        make_agent("broken", "skill-list", ArithmeticDomain())


def test_dotted_path_agents(user_package: Path) -> None:
    agent = make_agent("user_teachers:make_teacher", "skill-tree", ArithmeticDomain())
    assert agent.name == "user_teachers:make_teacher"
    wrapped = make_agent("user_teachers:bare_policy", "open-ended", ArithmeticDomain())
    assert isinstance(wrapped.policy, NoStatePolicy)  # a bare policy gets the engine
    with pytest.raises(ConfigError, match="returned a int"):
        make_agent("user_teachers:not_an_agent", "open-ended", ArithmeticDomain())
    with pytest.raises(ConfigError, match="could not load agent"):
        check_names(domain="arithmetic", agent="user_teachers:nothing", student=None)


def test_unknown_names_still_list_the_built_in_agents() -> None:
    with pytest.raises(
        ConfigError, match="choose one of: learned, no-state, oracle, weakest-first, with-state"
    ):
        check_names(domain="arithmetic", agent="nobody", student=None)
