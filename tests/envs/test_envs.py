"""Conformance of the three environments: Gymnasium API, validation, budgets, determinism."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import dataenvgym
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import InvalidActionError
from dataenvgym.registry import make_agent, make_env
from dataenvgym.types import (
    NewSubskill,
    OpenEndedAction,
    OpenEndedObservation,
    SkillListAction,
    SkillListObservation,
    SkillRequest,
    SkillTreeAction,
    SkillTreeObservation,
    TrainingDatum,
)

ENVS = ["open-ended", "skill-list", "skill-tree"]
OBS = {
    "open-ended": OpenEndedObservation,
    "skill-list": SkillListObservation,
    "skill-tree": SkillTreeObservation,
}


def test_ids_are_registered_on_import() -> None:
    ids = dataenvgym.register_envs()
    assert "dataenvgym/Arithmetic-SkillTree-v0" in ids
    for gid in ids:
        assert gid in gym.registry


def test_gymnasium_make_builds_the_env(tiny_kwargs: Any) -> None:
    kwargs = tiny_kwargs("skill-list")
    kwargs.pop("env"), kwargs.pop("domain")
    env = gym.make("dataenvgym/Arithmetic-SkillList-v0", **kwargs)
    assert isinstance(env.unwrapped, TeacherEnv)
    obs, info = env.reset(seed=0)
    assert isinstance(obs, SkillListObservation)
    assert env.observation_space.contains(obs)
    assert 0.0 <= info["val_accuracy"] <= 1.0


@pytest.mark.parametrize("env_name", ENVS)
def test_reset_step_types_and_episode_end(env_name: str, tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs(env_name))
    obs, info = env.reset(seed=1)
    assert isinstance(obs, OBS[env_name]) and obs.iteration == 0
    assert obs.budget_left == 120
    agent = make_agent("with-state", env_name, env.domain)
    agent.reset(1)
    steps = 0
    terminated = truncated = False
    while not (terminated or truncated):
        action = agent.act(obs)
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert isinstance(obs, OBS[env_name])
        assert isinstance(reward, float) and -1.0 <= reward <= 1.0
        assert set(info) >= {"per_skill", "num_new_data", "dropped", "data_per_subskill"}
        assert info["num_new_data"] + info["dropped"]["total"] <= 60
    assert steps == 2 and truncated and terminated  # budget and iterations end together
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(agent.act(obs))


def test_same_seed_same_trajectory(tiny_kwargs: Any) -> None:
    def trajectory() -> list[float]:
        env = make_env(**tiny_kwargs("skill-tree"))
        agent = make_agent("with-state", "skill-tree", env.domain)
        obs, info = env.reset(seed=5)
        agent.reset(5)
        values = [info["val_accuracy"]]
        for _ in range(2):
            obs, reward, *_ = env.step(agent.act(obs))
            values.append(reward)
        return [*values, env.evaluate_test().report.accuracy]

    assert trajectory() == trajectory()


def _datum(prompt: str = "100+200=", response: str = "0300", **kw: Any) -> TrainingDatum:
    fields: dict[str, Any] = {
        "id": prompt,
        "domain": "arithmetic",
        "skill": "addition",
        "subskill": "no_carry",
    }
    fields.update(kw)
    return TrainingDatum(prompt=prompt, response=response, **fields)


def _unchanged(env: TeacherEnv[Any, Any], before: tuple[int, int, int]) -> bool:
    return (env.iteration, env.budget_left, len(env.accumulated)) == before


@pytest.mark.parametrize(
    ("env_name", "action", "message"),
    [
        ("skill-tree", SkillTreeAction(exploit={"addition": {"nope": 3}}), "unknown subskill"),
        ("skill-tree", SkillTreeAction(exploit={"poetry": {}}), "unknown skill"),
        (
            "skill-tree",
            SkillTreeAction(explore={"addition": [NewSubskill(name="carry", allocation=61)]}),
            "over this step's budget",
        ),
        (
            "skill-tree",
            SkillTreeAction(
                explore={"addition": [NewSubskill(name="carry", allocation=1)]},
                data=[_datum(), _datum("101+200=", "0301")],
            ),
            "not in the tree",
        ),
        ("skill-list", SkillListAction(requests={"poetry": SkillRequest(count=1)}), "unknown"),
        (
            "skill-list",
            SkillListAction(requests={"addition": SkillRequest(count=61)}),
            "over the budget",
        ),
        (
            "skill-list",
            SkillListAction(requests={"addition": SkillRequest(count=1)}, data=[_datum()] * 2),
            "requested 1",
        ),
        ("open-ended", OpenEndedAction(data=[_datum(domain="code")]), "domain"),
        ("open-ended", OpenEndedAction(data=[_datum()] * 61), "budget"),
        ("open-ended", {"data": [{"prompt": "1+1="}]}, "malformed"),
        ("open-ended", SkillListAction(), "takes a OpenEndedAction"),
    ],
)
def test_invalid_actions_are_rejected_and_nothing_is_trained(
    env_name: str, action: Any, message: str, tiny_kwargs: Any
) -> None:
    env = make_env(**tiny_kwargs(env_name))
    env.reset(seed=0)
    weights = {k: v.clone() for k, v in env.student.model.state_dict().items()}  # type: ignore[attr-defined]
    before = (env.iteration, env.budget_left, len(env.accumulated))
    with pytest.raises(InvalidActionError, match=message):
        env.step(action)
    assert _unchanged(env, before)
    after = env.student.model.state_dict()  # type: ignore[attr-defined]
    assert all(after[k].equal(v) for k, v in weights.items())


def test_skill_tree_explore_exploit_and_prune(tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs("skill-tree"))
    obs, _ = env.reset(seed=0)
    assert all(not node.subskills for node in obs.forest.skills.values())
    explore = SkillTreeAction(
        explore={
            "addition": [
                NewSubskill(name="carry", allocation=10),
                NewSubskill(name="no_carry", allocation=5),
            ]
        }
    )
    data = env.domain.generate("addition", "carry", 10, __import__("random").Random(0))  # type: ignore[attr-defined]
    obs, _, _, _, info = env.step(explore.model_copy(update={"data": data}))
    node = obs.forest.skills["addition"].subskills["carry"]
    assert node.allocation == 10 and node.total_data == info["data_per_subskill"]["addition/carry"]
    assert len(node.history) == 2 and node.val_accuracy is not None
    assert node.data_accuracy is not None
    assert env.shortfall == {"addition/no_carry": 5}  # type: ignore[attr-defined]
    obs, *_ = env.step(SkillTreeAction(exploit={"addition": {"carry": 0, "no_carry": 3}}))
    assert "carry" not in obs.forest.skills["addition"].subskills
    assert obs.forest.skills["addition"].subskills["no_carry"].allocation == 3


def test_each_nodes_data_accuracy_is_the_students_on_a_sample_of_its_own_data(
    tiny_kwargs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs = tiny_kwargs("skill-tree")
    kwargs["env_config"] = {**kwargs.get("env_config", {}), "data_accuracy_sample": 6}
    env = make_env(**kwargs)
    env.reset(seed=1)
    rng = __import__("random").Random(1)
    carry = env.domain.generate("addition", "carry", 9, rng)  # type: ignore[attr-defined]
    no_carry = env.domain.generate("addition", "no_carry", 4, rng)  # type: ignore[attr-defined]
    # A student that knows the answers to the first four carry data only: the carry node's
    # sample (its first six data) is 4/6 right, no_carry's none, if each node is scored on
    # its own data.
    known = {d.prompt: d.response for d in carry[:4]}
    student = env.unwrapped.student  # type: ignore[attr-defined]
    monkeypatch.setattr(
        student, "predict", lambda items: [known.get(i.prompt, "no idea") for i in items]
    )
    explore = SkillTreeAction(
        explore={
            "addition": [
                NewSubskill(name="carry", allocation=9),
                NewSubskill(name="no_carry", allocation=4),
            ]
        },
        data=[*no_carry, *carry],
    )
    obs, *_ = env.step(explore)
    nodes = obs.forest.skills["addition"].subskills
    assert nodes["carry"].data_accuracy == pytest.approx(4 / 6)
    assert nodes["no_carry"].data_accuracy == 0.0


def test_generated_data_filter_counts_each_reason(tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs("open-ended"))
    env.reset(seed=0)
    val_prompt = env.validation[0]
    contaminated = _datum(val_prompt.prompt, val_prompt.answer, skill=val_prompt.skill)
    wrong = _datum("100+200=", "0999")
    fresh = _datum("101+202=", "0303")
    duplicate = _datum("101+202=", "0303", id="other")
    _, _, _, _, info = env.step(OpenEndedAction(data=[contaminated, wrong, fresh, duplicate]))
    assert info["dropped"] == {
        "duplicate": 1,
        "contaminated": 1,
        "failed_verification": 1,
        "total": 3,
    }
    assert info["num_new_data"] == 1 and env.accumulated[0].iteration == 1
    assert info["budget_left"] == 120 - 4


def test_test_split_never_reaches_the_observation(tiny_kwargs: Any) -> None:
    env = make_env(**tiny_kwargs("open-ended"))
    obs, _ = env.reset(seed=0)
    test_prompts = {i.prompt for i in env.test}
    assert not test_prompts & {e.instance.prompt for e in obs.evaluated}
