"""LLM policies and engine against the loopback server: plans, verified data, top-ups,
fallbacks, and whole episodes with their usage and drops in the run folder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.agents.llm import (
    LLMEngine,
    LLMTeacher,
    SkillTreeLLMPolicy,
    TeacherOptions,
    make_llm_agent,
    scale_to_budget,
)
from dataenvgym.agents.llm.policies import OpenEndedLLMPolicy
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, ScriptedTeacher, fake_server_config
from dataenvgym.types import (
    EvaluatedInstance,
    OpenEndedAction,
    OpenEndedObservation,
    SkillForest,
    SkillNode,
    SkillTreeAction,
    SkillTreeObservation,
    SubskillNode,
    TaskInstance,
)

DOMAIN = ArithmeticDomain()


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


@pytest.fixture
def scripted() -> ScriptedTeacher:
    return ScriptedTeacher(wrong_rate=0.2, short_rate=0.3)


@pytest.fixture
def server(scripted: ScriptedTeacher) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(scripted, latency_s=0.005) as srv:
        yield srv


def teacher_for(
    server: FakeOpenAIServer, run_dir: Path | None = None, **options: Any
) -> LLMTeacher:
    cache = run_dir / "llm_cache.sqlite" if run_dir is not None else None
    return LLMTeacher(fake_server_config(server, cache), TeacherOptions(**options), run_dir=run_dir)


def tree_observation(budget: int = 40, **allocations: int) -> SkillTreeObservation:
    """A Skill-Tree state with the gold skills; ``allocations`` like ``addition__carry=10``."""
    forest = SkillForest(
        skills={s.name: SkillNode(name=s.name, description=s.description) for s in DOMAIN.skills()}
    )
    for key, allocation in allocations.items():
        skill, sub = key.split("__")
        forest.skills[skill].subskills[sub] = SubskillNode(name=sub, allocation=allocation)
    return SkillTreeObservation(
        iteration=0,
        budget_per_iteration=budget,
        budget_left=budget * 3,
        val_accuracy=0.3,
        val_partial=0.5,
        forest=forest,
    )


def evaluated(prompt: str, answer: str, prediction: str, skill: str) -> EvaluatedInstance:
    instance = TaskInstance(
        id=prompt, domain="arithmetic", prompt=prompt, answer=answer, skill=skill
    )
    return EvaluatedInstance(
        instance=instance, prediction=prediction, correct=prediction == answer, partial=0.0
    )


# --------------------------------------------------------------------------- pieces


def test_scale_to_budget_is_proportional_and_exact() -> None:
    assert scale_to_budget({"a": 3, "b": 1}, 8) == {"a": 6, "b": 2}
    counts = scale_to_budget({"a": 1, "b": 1, "c": 1}, 10)
    assert sum(counts.values()) == 10 and max(counts.values()) - min(counts.values()) == 1
    assert scale_to_budget({"a": 0, "b": 0}, 4) == {"a": 2, "b": 2}
    assert scale_to_budget({"a": 5}, 0) == {"a": 0}


def test_engine_writes_exactly_the_allocation_with_verified_data(
    server: FakeOpenAIServer, scripted: ScriptedTeacher
) -> None:
    teacher = teacher_for(server, items_per_call=4, max_topups=4, repair_answers=False)
    engine = LLMEngine(teacher, DOMAIN, DOMAIN.skills())
    observation = tree_observation(addition__carry=9, subtraction__borrow=7)
    data = engine.generate(SkillTreeAction(), observation, seed=0)
    per_node = {(d.skill, d.subskill) for d in data}
    assert per_node == {("addition", "carry"), ("subtraction", "borrow")}
    assert sum(d.subskill == "carry" for d in data) == 9
    assert sum(d.subskill == "borrow" for d in data) == 7
    assert all(DOMAIN.verify(d) is None and d.source == "llm" for d in data)
    assert len({d.prompt for d in data}) == len(data)
    counts = teacher.engine_ledger.get(1)
    # 20 % wrong answers were written and dropped; short answers were topped up.
    assert counts["requested"] == 16 and counts["kept"] == 16 and counts["shortfall"] == 0
    assert counts["dropped_failed_verification"] > 0 and counts["topup_rounds"] >= 1
    assert scripted.counts["GeneratedItems"] > 4  # 3 + 2 first-round calls, then top-ups


def test_engine_counts_a_shortfall_when_the_model_keeps_failing() -> None:
    always_wrong = ScriptedTeacher(wrong_rate=1.0, short_rate=0.0)
    with FakeOpenAIServer(always_wrong) as srv:
        teacher = teacher_for(srv, max_topups=1, repair_answers=False)
        data = LLMEngine(teacher, DOMAIN, DOMAIN.skills()).generate(
            SkillTreeAction(), tree_observation(addition__carry=5), seed=0
        )
    assert data == []
    counts = teacher.engine_ledger.get(1)
    assert counts["dropped_failed_verification"] == 10  # 5 asked, 5 asked again
    assert counts["shortfall"] == 5 and counts["kept"] == 0


def test_engine_repairs_wrong_answers_where_the_domain_can_compute_them() -> None:
    always_wrong = ScriptedTeacher(wrong_rate=1.0, short_rate=0.0)
    with FakeOpenAIServer(always_wrong) as srv:
        teacher = teacher_for(srv, max_topups=0)  # repair_answers is on by default
        data = LLMEngine(teacher, DOMAIN, DOMAIN.skills()).generate(
            SkillTreeAction(), tree_observation(addition__carry=5), seed=0
        )
    assert len(data) == 5 and all(DOMAIN.verify(d) is None for d in data)
    counts = teacher.engine_ledger.get(1)
    assert counts["repaired_answers"] == 5 and counts.get("dropped_failed_verification", 0) == 0


def test_tree_policy_explores_an_empty_tree_and_fits_the_budget(
    server: FakeOpenAIServer,
) -> None:
    teacher = teacher_for(server)
    policy = SkillTreeLLMPolicy(teacher, "arithmetic", DOMAIN.skills())
    action = policy.plan(tree_observation(budget=40))
    assert isinstance(action, SkillTreeAction) and set(action.explore) == {
        s.name for s in DOMAIN.skills()
    }
    total = sum(n.allocation for new in action.explore.values() for n in new)
    assert 0 < total <= 40
    # The proposer prefers the domain's known subskill names.
    assert {n.name for n in action.explore["addition"]} <= {"no_carry", "carry", "carry_chain"}


def test_tree_policy_scales_an_over_budget_exploit() -> None:
    def greedy(request: dict[str, Any]) -> str:
        return json.dumps(
            {
                "mode": "exploit",
                "exploit": [
                    {"skill": "addition", "subskill": "carry", "allocation": 300},
                    {"skill": "addition", "subskill": "nope", "allocation": 5},
                ],
            }
        )

    with FakeOpenAIServer(greedy) as srv:
        policy = SkillTreeLLMPolicy(teacher_for(srv), "arithmetic", DOMAIN.skills())
        action = policy.plan(
            tree_observation(budget=40, addition__carry=10, division__remainder=10)
        )
    assert isinstance(action, SkillTreeAction)
    # 300 : 10 scaled into 40, the unknown subskill ignored.
    assert action.exploit == {"addition": {"carry": 39}, "division": {"remainder": 1}}
    assert "scaled" in action.notes


def test_policy_falls_back_and_counts_when_answers_are_unusable() -> None:
    with FakeOpenAIServer() as srv:  # echoes the prompt: never valid JSON of the schema
        teacher = teacher_for(srv, max_reasks=1)
        policy = OpenEndedLLMPolicy(teacher, "arithmetic", DOMAIN.skills())
        observation = OpenEndedObservation(
            iteration=0,
            budget_per_iteration=10,
            budget_left=30,
            val_accuracy=0.5,
            val_partial=0.6,
            evaluated=[
                evaluated("123+456=", "0579", "0578", "addition"),
                evaluated("456-123=", "0333", "0333", "subtraction"),
                evaluated("222*003=", "0666", "0066", "multiplication"),
            ],
        )
        action = policy.plan(observation)
    assert isinstance(action, OpenEndedAction)
    assert [s.example_prompt for s in action.specs] == ["123+456=", "222*003="]
    assert sum(s.count for s in action.specs) == 10 and action.notes.startswith("fallback")
    assert teacher.policy_fallbacks["open_ended_plan"] == 1
    usage = teacher.client.usage.total(role="policy")
    assert usage.reasks == 1 and usage.invalid_outputs == 1 and usage.calls == 2


def test_make_agent_with_a_teacher_builds_llm_agents(server: FakeOpenAIServer) -> None:
    teacher = teacher_for(server)
    agent = make_agent("with-state", "skill-list", DOMAIN, teacher=teacher)
    assert type(agent.policy).__name__ == "SkillListLLMPolicy"
    assert isinstance(agent.engine, LLMEngine) and agent.name == "with-state+openai:fake-model"
    baseline = make_agent("no-state", "open-ended", DOMAIN, teacher=teacher)
    assert type(baseline.policy).__name__ == "NoStatePolicy"
    assert isinstance(baseline.engine, LLMEngine)


# --------------------------------------------------------------------------- episodes


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list"])
def test_llm_episode_writes_usage_and_drops_to_the_run_folder(
    env_name: str,
    server: FakeOpenAIServer,
    tmp_path: Path,
    tiny_kwargs: Callable[..., dict[str, Any]],
) -> None:
    run = tmp_path / "run"
    teacher = teacher_for(server, run, repair_answers=False)
    env = make_env(**tiny_kwargs(env_name))
    agent = make_llm_agent("with-state", env_name, env.domain, teacher)
    summary = run_episode(env, agent, seed=0, out_dir=run)
    teacher.close()

    budget = 60
    for row in summary["iterations"]:
        # The engine verified and topped up, so the env keeps (almost) the whole budget.
        assert budget - 2 <= row["num_new_data"] + row["dropped"]["total"] <= budget
        assert row["dropped"]["failed_verification"] == 0
    data = [json.loads(x) for x in (run / "iteration_001" / "data.jsonl").read_text().splitlines()]
    assert data and all(d["source"] == "llm" for d in data)
    assert all(DOMAIN.verify(DOMAIN_DATUM(d)) is None for d in data)

    usage = json.loads((run / "llm_usage.json").read_text())
    assert usage["teacher"] == "openai:fake-model"
    for it in ("1", "2"):
        cell = usage["usage"]["by_iteration_role"][it]
        assert cell["policy"]["calls"] >= 1 and cell["engine"]["calls"] >= 1
        assert cell["engine"]["prompt_tokens"] > 0 and cell["engine"]["completion_tokens"] > 0
        engine = usage["engine"]["by_iteration"][it]
        assert engine["requested"] == budget and engine["dropped_failed_verification"] > 0
    per_iteration = json.loads((run / "iteration_002" / "llm_usage.json").read_text())
    assert per_iteration["usage_by_role"]["engine"]["calls"] >= 1
    assert per_iteration["engine"]["kept"] == usage["engine"]["by_iteration"]["2"]["kept"]
    plan = json.loads((run / "iteration_001" / "plan.json").read_text())
    assert plan["notes"] and not plan["notes"].startswith("fallback")


def DOMAIN_DATUM(row: dict[str, Any]) -> Any:
    from dataenvgym.types import TrainingDatum

    return TrainingDatum.model_validate(row)


class BatchVerifyingArithmetic(ArithmeticDomain):
    """Arithmetic whose verifier is only reachable in batches (like a code domain's)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def verify(self, datum: Any) -> str | None:
        raise AssertionError("the engine must use verify_many when a domain has it")

    def verify_many(self, data: Any) -> list[str | None]:
        self.batches.append(len(data))
        return [ArithmeticDomain.verify(self, d) for d in data]


def test_engine_verifies_in_batches_when_the_domain_can(server: FakeOpenAIServer) -> None:
    domain = BatchVerifyingArithmetic()
    teacher = teacher_for(server, items_per_call=5, max_topups=3, repair_answers=False)
    data = LLMEngine(teacher, domain, domain.skills()).generate(
        SkillTreeAction(), tree_observation(addition__carry=10, division__remainder=10), seed=0
    )
    assert len(data) == 20 and all(ArithmeticDomain.verify(domain, d) is None for d in data)
    assert domain.batches[0] >= 10  # one batch per round, not one call per example
    assert len(domain.batches) == teacher.engine_ledger.get(1).get("topup_rounds", 0) + 1


def test_a_dead_server_mid_episode_means_fallbacks_not_a_crash() -> None:
    from dataenvgym.testing import FaultConfig

    always_500 = FaultConfig(rate=1.0, kinds=("500",))
    with FakeOpenAIServer(ScriptedTeacher(), faults=always_500) as srv:
        config = fake_server_config(srv, max_retries=1)
        teacher = LLMTeacher(config, TeacherOptions(max_topups=0))
        agent = make_llm_agent("with-state", "skill-tree", DOMAIN, teacher)
        action = agent.act(tree_observation(budget=20, addition__carry=10))
    assert isinstance(action, SkillTreeAction) and action.data == []
    usage = teacher.client.usage.total()
    # The policy call is tried twice; once it failed, the engine call gets one attempt (a
    # dead endpoint costs one backoff, not one per call). The tree kept its allocation.
    assert usage.calls == 0 and usage.failed_calls == 2 and usage.retries == 1
    assert teacher.policy_fallbacks == {"skill_tree_decision": 1}
    assert teacher.engine_ledger.get(1)["lost_to_failed_calls"] == 10


def test_a_resumed_run_keeps_earlier_usage(server: FakeOpenAIServer, tmp_path: Path) -> None:
    first = teacher_for(server, tmp_path)
    LLMEngine(first, DOMAIN, DOMAIN.skills()).generate(
        SkillTreeAction(), tree_observation(addition__carry=3), seed=0
    )
    first.close()
    before = json.loads((tmp_path / "iteration_001" / "llm_usage.json").read_text())
    assert before["usage"]["calls"] >= 1

    second = teacher_for(server, tmp_path)  # same folder and cache: replays from the cache
    LLMEngine(second, DOMAIN, DOMAIN.skills()).generate(
        SkillTreeAction(), tree_observation(addition__carry=3), seed=0
    )
    second.close()
    report = json.loads((tmp_path / "llm_usage.json").read_text())
    assert report["usage"]["total"]["calls"] == 0 and report["usage"]["total"]["cache_hits"] >= 1
    assert report["earlier_sessions"][0]["usage"]["total"]["calls"] == before["usage"]["calls"]
    after = json.loads((tmp_path / "iteration_001" / "llm_usage.json").read_text())
    assert after == before, "a replayed iteration keeps its own usage file"
