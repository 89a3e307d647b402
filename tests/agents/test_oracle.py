from __future__ import annotations

import copy
import pickle
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from dataenvgym.agents.handover import HandOverTrainer
from dataenvgym.agents.oracle import (
    OracleAgent,
    OracleConfig,
    make_oracle,
)
from dataenvgym.agents.oracle_notes import parse_look_ahead_notes
from dataenvgym.agents.oracle_search import oracle_allocation
from dataenvgym.agents.policies import OpenEndedStatePolicy, SkillTreeStatePolicy
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.protocols import Student
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode
from dataenvgym.types import EvaluationResult, Observation, TaskInstance, subskill_key

SMALL = OracleConfig(private_per_subskill=30)  # the tiny student needs no more


class _RecordingEvaluator:
    """Wraps the environment's evaluator and records every prompt it is asked to score."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.prompts: list[str] = []

    def evaluate(self, student: Student, instances: Sequence[TaskInstance]) -> EvaluationResult:
        self.prompts.extend(i.prompt for i in instances)
        result: EvaluationResult = self.inner.evaluate(student, instances)
        return result


def _attached_oracle(
    tiny_kwargs: Any, env_name: str
) -> tuple[TeacherEnv[Any, Any], OracleAgent, Observation]:
    """A tiny environment reset on seed 0 with a small oracle attached: (env, agent, obs)."""
    env = make_env(**tiny_kwargs(env_name))
    agent = make_oracle(env.domain, SMALL)
    assert isinstance(agent, OracleAgent)
    observation, _ = env.reset(seed=0)
    agent.reset(seed=0)
    agent.attach_env(env)
    return env, agent, observation


def test_allocation_follows_gains_over_a_floor() -> None:
    gains = {"a/x": 0.2, "a/y": 0.1, "b/z": 0.0, "b/w": -0.05}
    counts = oracle_allocation(gains, 100, floor=0.2)
    assert sum(counts.values()) == 100
    assert counts == {"a/x": 58, "a/y": 32, "b/z": 5, "b/w": 5}  # 5 + 80·2/3, 5 + 80/3, 5, 5
    assert oracle_allocation({"a/x": 0.0, "a/y": -0.1}, 10, floor=0.2) == {"a/x": 5, "a/y": 5}
    # Equal shares over the subskills that gained: a slow learner is not starved.
    equal = oracle_allocation(gains, 100, floor=0.2, equal=True)
    assert equal == {"a/x": 45, "a/y": 45, "b/z": 5, "b/w": 5}


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_oracle_is_privileged_within_budget_and_never_scores_a_test_item(
    env_name: str, tiny_kwargs: Any
) -> None:
    env, agent, observation = _attached_oracle(tiny_kwargs, env_name)
    assert agent.privileged
    recorder = _RecordingEvaluator(env.evaluator)
    env.evaluator = recorder
    weights = {k: v.clone() for k, v in env.student.model.state_dict().items()}  # type: ignore[attr-defined]
    action = agent.act(observation)
    # The same data budget as every agent: the look-ahead's copies do not count, its plan does.
    assert len(action.data) <= observation.budget_per_iteration
    test_prompts = {i.prompt for i in env.test}
    assert recorder.prompts, "the oracle scored nothing"
    assert not set(recorder.prompts) & test_prompts
    # The look-ahead trains a copy: the environment's student is untouched.
    after = env.student.model.state_dict()  # type: ignore[attr-defined]
    assert all(bool((weights[k] == after[k]).all()) for k in weights)
    # It tried uniform and chose the candidate whose copy scored best on its private items.
    look = agent.oracle.log[-1]
    assert look.candidates[0].label == "uniform"
    assert "with-state" in [c.label for c in look.candidates]  # the built-in rule competes
    assert not [c for c in look.candidates if c.label.startswith("search")]  # off by default
    assert look.chosen.private_accuracy == max(c.private_accuracy for c in look.candidates)
    # The plan's notes keep what it measured, readable back from a run folder.
    noted = parse_look_ahead_notes(action.notes)
    assert parse_look_ahead_notes("with state: progress × ZPD") is None  # not an oracle's
    cut = action.notes.replace("'uniform': ", "'uniform': x", 1)  # a hand-edited note
    assert parse_look_ahead_notes(cut) is None
    assert noted is not None and noted.chosen == look.chosen.label
    assert noted.private_accuracy == {
        c.label: round(c.private_accuracy, 4) for c in look.candidates
    }
    assert noted.gains == {unit: round(gain, 3) for unit, gain in look.gains.items()}
    # The data follows the allocation per subskill, whatever the environment's action shape.
    per_subskill = Counter(subskill_key(d.skill, d.subskill) for d in action.data)
    assert per_subskill == {k: n for k, n in look.allocation.items() if n}
    observation, *_, info = env.step(action)  # a valid action: no InvalidActionError
    # The environment drops what the look-ahead predicted it would (copies of evaluation
    # prompts, nothing else) and keeps the rest: the look-ahead of the chosen candidate was
    # the step itself (same trainer, seed, replay, data and order).
    lost = len(look.chosen.data) - len(look.chosen.kept)
    assert info["dropped"]["contaminated"] == info["dropped"]["total"] == lost
    assert len(env.accumulated) == len(look.chosen.kept)
    assert agent.oracle._private_scores(env.student) == look.chosen.scores
    # Its next step writes nothing it submitted before, kept or dropped, as an engine would.
    assert {d.prompt for d in action.data} <= agent.oracle.drawn
    second = agent.act(observation)
    assert not {d.prompt for d in second.data} & {d.prompt for d in action.data}


class _CountingTrainer:
    """Wraps a trainer and records the iteration of every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.iterations: list[int] = []

    def train(self, *args: Any, **kwargs: Any) -> Any:
        self.iterations.append(kwargs["iteration"])
        return self.inner.train(*args, **kwargs)


def _weights(student: Any) -> dict[str, Any]:
    return {k: v.clone() for k, v in student.model.state_dict().items()}


def test_the_step_takes_over_the_chosen_copy_instead_of_training_it_again(
    tiny_kwargs: Any,
) -> None:
    env = make_env(**tiny_kwargs("skill-tree"))
    agent = make_oracle(env.domain, SMALL)
    assert isinstance(agent, OracleAgent)
    observation, _ = env.reset(seed=0)
    counting = _CountingTrainer(env.trainer)
    env.trainer = counting
    agent.reset(seed=0)
    agent.attach_env(env)
    agent.attach_env(env)  # attached again (a resume): wrapped once, around the real trainer
    assert isinstance(env.trainer, HandOverTrainer) and env.trainer.inner is counting
    action = agent.act(observation)
    tried = len(agent.oracle.log[-1].candidates)
    assert counting.iterations == [1] * tried
    restored = pickle.loads(pickle.dumps(agent))
    assert restored.oracle.trained_copy is None  # checkpoints never hold a student copy
    before = copy.deepcopy(env.student)
    observation, *_ = env.step(action)
    assert counting.iterations == [1] * tried  # the step trained nothing more
    # ... and its weights are those that training the same data would have given.
    counting.inner.train(
        before, action.data, env.accumulated, base=env.base, iteration=1, seed=env.seed_value
    )
    after, expected = _weights(env.student), _weights(before)
    assert all(bool((after[k] == expected[k]).all()) for k in expected)
    # A step whose data is not the chosen copy's (here: one datum short) trains as usual.
    action = agent.act(observation)
    action.data = action.data[:-1]
    env.step(action)
    assert counting.iterations[-1] == 2 and len(counting.iterations) == tried + 1 + len(
        agent.oracle.log[-1].candidates
    )


def _three_step_oracle(
    tiny_kwargs: Any, env_name: str, config: OracleConfig
) -> tuple[TeacherEnv[Any, Any], OracleAgent, Observation, _CountingTrainer]:
    """A tiny three-iteration environment reset on seed 0, its trainer counted, with an
    oracle of ``config`` attached: (env, agent, first observation, counting trainer)."""
    kwargs = tiny_kwargs(env_name)
    kwargs["env_config"] = {**kwargs.get("env_config", {}), "max_iterations": 3}
    env = make_env(**kwargs)
    agent = make_oracle(env.domain, config)
    assert isinstance(agent, OracleAgent)
    observation, _ = env.reset(seed=0)
    counting = _CountingTrainer(env.trainer)
    env.trainer = counting
    agent.reset(seed=0)
    agent.attach_env(env)
    return env, agent, observation, counting


def test_a_horizon_judges_candidates_later_but_steps_with_the_first_step(
    tiny_kwargs: Any,
) -> None:
    config = OracleConfig(private_per_subskill=30, search_population=1, horizon=3)
    env, agent, observation, counting = _three_step_oracle(tiny_kwargs, "skill-list", config)
    for iteration in range(3):
        counting.iterations.clear()
        action = agent.act(observation)
        look = agent.oracle.log[-1]
        tried = len(look.candidates)
        # Each candidate: its own step, then the rest of the horizon, never past the end.
        steps = list(range(iteration + 1, min(iteration + 3, 3) + 1))
        assert counting.iterations == steps * tried
        observation, *_ = env.step(action)
        assert len(counting.iterations) == len(steps) * tried  # the step trained nothing
        # The environment's student is the chosen candidate's first step, not its roll-out.
        assert agent.oracle._private_scores(env.student) == look.chosen.scores


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_a_committed_oracle_plays_the_episode_it_rolled_out(
    env_name: str, tiny_kwargs: Any
) -> None:
    config = OracleConfig(private_per_subskill=30, commit=True)
    env, agent, observation, counting = _three_step_oracle(tiny_kwargs, env_name, config)
    budget = observation.budget_per_iteration
    plan: Any = None
    rolled = 0
    for iteration in range(3):
        action = agent.act(observation)
        assert len(action.data) <= budget
        if iteration == 0:
            plan = agent.oracle.committed
            assert plan is not None and plan.first_iteration == 1
            rolled = len(counting.iterations) // 3
            assert rolled >= 1 and counting.iterations == [1, 2, 3] * rolled
        assert agent.oracle.committed is plan  # planned once, played step by step
        assert plan is not None
        assert [d.prompt for d in action.data] == [d.prompt for d in plan.steps[iteration].data]
        observation, *_ = env.step(action)
    # Not one more fit: every step took over the rolled-out copy, so the episode the
    # environment played is the plan's, to the last private item.
    assert len(counting.iterations) == 3 * rolled
    assert all(step.student is None for step in plan.steps)  # each copy went to its step
    assert agent.oracle._private_scores(env.student) == plan.scores


def test_oracle_episode_summary_is_marked_privileged(tiny_kwargs: Any, tmp_path: Any) -> None:
    env = make_env(**tiny_kwargs("skill-list"))
    agent = make_agent("oracle", "skill-list", env.domain)
    assert isinstance(agent, OracleAgent)
    summary = run_episode(env, agent, seed=1, out_dir=tmp_path / "run")
    assert summary["privileged"] is True and summary["agent"] == "oracle"
    assert len(agent.oracle.log) == len(summary["iterations"])
    plan = (tmp_path / "run" / "iteration_001" / "plan.json").read_text()
    assert "oracle (privileged)" in plan


def test_pickled_oracle_forgets_the_environment(tiny_kwargs: Any) -> None:
    _, agent, observation = _attached_oracle(tiny_kwargs, "skill-tree")
    restored = pickle.loads(pickle.dumps(agent))
    assert restored.oracle.env is None and restored.oracle.private == []
    # A revision-1 checkpoint (no record of drawn prompts) resumes with an empty record.
    state = agent.oracle.__getstate__()
    del state["drawn"]
    old = agent.oracle.__class__.__new__(agent.oracle.__class__)
    old.__setstate__(state)
    assert old.drawn == set()
    with pytest.raises(DataEnvGymError, match="attach_env"):
        restored.act(observation)


class _NoGenerators:
    """A domain with a scorer but no generators (like a task file)."""

    name = "no-generators"

    def skills(self) -> list[Any]:
        return []

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        return [], []

    def score(self, instance: TaskInstance, prediction: str) -> Any:
        raise NotImplementedError

    def verify(self, datum: Any) -> str | None:
        return None


def test_oracle_needs_generators() -> None:
    with pytest.raises(ConfigError, match="generators"):
        make_agent("oracle", "skill-list", _NoGenerators())


STATE_POLICY_TYPES = (SkillTreeStatePolicy, OpenEndedStatePolicy)


@pytest.mark.parametrize(
    ("env_name", "policy"),
    [("skill-tree", SkillTreeStatePolicy), ("open-ended", OpenEndedStatePolicy)],
)
def test_the_oracle_competes_with_the_frozen_with_state_rule_not_the_live_one(
    tiny_kwargs: Any, env_name: str, policy: type
) -> None:
    env, agent, observation = _attached_oracle(tiny_kwargs, env_name)
    agent.act(observation)
    guide = agent.oracle.guide
    live = make_agent("with-state", env_name, env.domain).policy
    # The with-state agent reads the variance gap and gives every unit a fair trial; the
    # yardstick's candidate does neither, so a change to the agent reruns only its episodes.
    assert type(guide) is policy and type(live) is policy
    assert isinstance(guide, STATE_POLICY_TYPES) and isinstance(live, STATE_POLICY_TYPES)
    assert guide.config == OracleConfig().with_state_allocation
    assert guide.config.variance_weight == 0.0 and guide.config.explore_gate is None
    assert guide.config.tried_after_fair_shares == 0.0
    assert live.config != guide.config


def test_the_with_state_revision_is_the_one_a_board_expects() -> None:
    from dataenvgym.config import RunConfig
    from dataenvgym.leaderboard.suite import current_revision

    domain = ArithmeticDomain()
    for env_name in ("open-ended", "skill-list", "skill-tree"):
        config = RunConfig(env=env_name, domain="arithmetic", agent="with-state")
        assert make_agent("with-state", env_name, domain).revision == current_revision(config)
    tree = RunConfig(env="skill-tree", domain="arithmetic", agent="with-state")
    assert current_revision(tree) == 2  # the variance term
    assert current_revision(tree.model_copy(update={"env": "open-ended"})) == 2  # fair trial
    assert current_revision(tree.model_copy(update={"env": "skill-list"})) is None
    # An LLM teacher's with-state run is not the built-in agent's: no revision to match.
    assert current_revision(tree.model_copy(update={"teacher": "openai:m"})) is None


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_what_weakest_first_would_send_competes_within_the_budget(
    env_name: str, tiny_kwargs: Any
) -> None:
    env, agent, observation = _attached_oracle(tiny_kwargs, env_name)
    weakest = make_agent("weakest-first", env_name, env.domain).policy
    planned = agent.oracle.guide_engine.planned_counts(weakest.plan(observation), observation)
    expected = dict.fromkeys(agent.oracle.units, 0)
    for (skill, subskill), count in planned.items():
        expected[subskill_key(skill, subskill)] += count
    agent.act(observation)
    look = agent.oracle.log[-1]
    tried = [c for c in look.candidates if c.counts == expected]
    assert tried, "weakest-first's allocation was not tried"  # labelled, or equal to one tried
    assert sum(tried[0].counts.values()) == observation.budget_per_iteration
    assert tried[0].counts != look.candidates[0].counts  # not simply uniform again
