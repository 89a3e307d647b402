"""Teacher health: episodes against a server that answers only from the request's schema
keep and train on data in every environment; a prose-only or malformed-JSON server stops
the run before training on nothing (resumable), unless degraded runs are allowed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.agents.llm import LLMTeacher, TeacherOptions, make_llm_agent
from dataenvgym.agents.llm.policies import SkillTreeLLMPolicy
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.errors import TeacherDegraded
from dataenvgym.leaderboard.board import build_board
from dataenvgym.registry import make_env
from dataenvgym.runner import run_episode
from dataenvgym.testing import (
    TEST_KEY_ENV,
    FakeOpenAIServer,
    SchemaServer,
    fake_server_config,
    schema_responder,
)
from dataenvgym.types import SkillForest, SkillNode, SkillTreeAction, SkillTreeObservation

DOMAIN = ArithmeticDomain()


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


def one_iteration(tiny_kwargs: Callable[..., dict[str, Any]], env: str) -> dict[str, Any]:
    kwargs = tiny_kwargs(env)
    kwargs["env_config"] = {"budget_per_iteration": 40, "max_iterations": 2}
    return kwargs


def episode(
    server: FakeOpenAIServer,
    run: Path,
    env_name: str,
    tiny_kwargs: Callable[..., dict[str, Any]],
    **run_options: Any,
) -> tuple[LLMTeacher, dict[str, Any]]:
    teacher = LLMTeacher(
        fake_server_config(server, run / "llm_cache.sqlite"), TeacherOptions(), run_dir=run
    )
    env = make_env(**one_iteration(tiny_kwargs, env_name))
    agent = make_llm_agent("with-state", env_name, env.domain, teacher)
    try:
        return teacher, run_episode(env, agent, seed=0, out_dir=run, **run_options)
    finally:
        teacher.close()


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_a_schema_answering_server_gives_data_in_every_environment(
    env_name: str, tmp_path: Path, tiny_kwargs: Callable[..., dict[str, Any]]
) -> None:
    run = tmp_path / "run"
    with SchemaServer() as server:
        _, summary = episode(server, run, env_name, tiny_kwargs)
    usage = json.loads((run / "llm_usage.json").read_text())
    assert usage["structured_output"]["mode"] == "json_schema"
    assert usage["usage"]["total"]["invalid_outputs"] == 0
    assert usage["policy"]["total"]["fallbacks"] == 0
    assert summary["total_training_data"] > 0
    assert all(row["num_new_data"] > 0 for row in summary["iterations"])
    health = summary["teacher_health"]
    assert health["degraded"] is False and health["delivered_share"] > 0.1
    report = json.loads((run / "iteration_001" / "report.json").read_text())
    assert report["teacher_health"]["delivered"] == summary["iterations"][0]["num_new_data"]
    # failed_calls agree between the usage counters and the engine's ledger.
    engine_usage = usage["usage"]["by_role"]["engine"]
    assert usage["engine"]["total"].get("failed_calls", 0) == engine_usage["failed_calls"]


def prose(request: dict[str, Any]) -> str:
    return "I would suggest practising carries; here is my reasoning in prose."


def malformed(request: dict[str, Any]) -> str:
    return "{'items': [{'prompt': '123+456=', 'answer': '0579'"


@pytest.mark.parametrize("responder", [prose, malformed], ids=["prose", "malformed"])
def test_an_unusable_teacher_stops_before_training_and_resumes_when_fixed(
    responder: Callable[[dict[str, Any]], str],
    tmp_path: Path,
    tiny_kwargs: Callable[..., dict[str, Any]],
) -> None:
    run = tmp_path / "run"
    with FakeOpenAIServer(responder) as server:
        with pytest.raises(TeacherDegraded) as info:
            episode(server, run, "skill-list", tiny_kwargs)
        message = str(info.value)
        assert "\n" not in message and "--resume" in message and "--allow-degraded" in message
        assert "iteration 1" in message and "delivered 0 of 40" in message
        assert not (run / "iteration_001" / "report.json").exists()
        assert (run / "iteration_000" / "report.json").exists()
        events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
        assert events[-1]["event"] == "teacher_degraded" and events[-1]["delivered"] == 0

        server.responder = schema_responder  # the endpoint is fixed
        _, summary = episode(server, run, "skill-list", tiny_kwargs, resume=True)
    assert summary["teacher_health"]["degraded"] is False
    assert summary["total_training_data"] > 0


def test_allow_degraded_goes_on_and_the_leaderboard_refuses_the_run(
    tmp_path: Path, tiny_kwargs: Callable[..., dict[str, Any]]
) -> None:
    with FakeOpenAIServer(prose) as server:
        _, summary = episode(
            server, tmp_path / "run", "skill-tree", tiny_kwargs, allow_degraded=True
        )
    health = summary["teacher_health"]
    assert health["degraded"] is True and health["degraded_iterations"] == [1, 2]
    assert summary["total_training_data"] == 0
    setting = ("arithmetic", "skill-tree", 40, 2, "tiny")
    board = build_board([(setting, "with-state", 0, summary)])
    assert board.rows == [] and "degraded" in board.failed[0]


def test_skill_tree_fallback_proposes_known_subskills_never_an_empty_tree() -> None:
    def decision_only(request: dict[str, Any]) -> str:
        fmt = request.get("response_format") or {}
        if fmt.get("json_schema", {}).get("name") == "TreeDecision":
            return schema_responder(request)  # type: ignore[return-value]
        return "no idea"

    forest = SkillForest(
        skills={s.name: SkillNode(name=s.name, description=s.description) for s in DOMAIN.skills()}
        | {"geometry": SkillNode(name="geometry", description="not in the catalogue")}
    )
    observation = SkillTreeObservation(
        iteration=0,
        budget_per_iteration=40,
        budget_left=80,
        val_accuracy=0.3,
        val_partial=0.5,
        forest=forest,
    )
    with FakeOpenAIServer(decision_only) as server:
        teacher = LLMTeacher(fake_server_config(server), TeacherOptions(max_reasks=0))
        action = SkillTreeLLMPolicy(teacher, "arithmetic", DOMAIN.skills()).plan(observation)
    assert isinstance(action, SkillTreeAction) and action.explore
    known = {s.name: set(s.subskills) for s in DOMAIN.skills()}
    for skill, new in action.explore.items():
        names = {n.name for n in new}
        assert names <= known.get(skill, {"geometry"}) and names
    assert teacher.policy_fallbacks["subskill_proposals"] >= 1
