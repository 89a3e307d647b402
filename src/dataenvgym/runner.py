"""The episode loop, readable top to bottom.

The runner is the only place that sees the test split: it measures it at the start, after
every iteration (for plots) and at the end, and never hands it to the agent.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from dataenvgym.agents.base import Agent
from dataenvgym.checkpoint import DamagedCheckpointError, remove_staging, restore, save_checkpoint
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import TeacherDegraded
from dataenvgym.manifest import file_digest
from dataenvgym.numerics import describe as describe_numerics
from dataenvgym.protocols import AdapterStudent
from dataenvgym.resume import (
    has_fallback,
    no_fallback,
    select_checkpoint,
    set_aside_note,
    strict_refusal,
)
from dataenvgym.run_folder import RunFolder
from dataenvgym.types import EvaluationResult, SkillReport


@dataclass
class EpisodeHooks:
    """Optional callbacks for progress displays."""

    on_iteration_start: Any = None  # (iteration: int) -> None
    on_iteration_end: Any = None  # (iteration: int, summary_row: dict) -> None
    #: (message: str) -> None: a resume fell back from a damaged checkpoint, or used one
    #: without a manifest. Without it the message is a :class:`ResumeWarning`.
    on_notice: Any = None


class ResumeWarning(UserWarning):
    """A resumed episode set a damaged checkpoint aside, or used one it could not verify."""


def _scores(report: SkillReport) -> dict[str, Any]:
    return {
        "accuracy": report.accuracy,
        "partial": report.partial,
        "per_skill": {k: v.accuracy for k, v in report.per_skill.items()},
        "per_subskill": {k: v.accuracy for k, v in report.per_subskill.items()},
    }


def _state_extras(observation: Any) -> dict[str, Any]:
    """What reports show of the agent's state: the Skill-Tree forest, where there is one."""
    forest = getattr(observation, "forest", None)
    return {"forest": forest.model_dump(mode="json")} if forest is not None else {}


def _component_name(component: object) -> str:
    """A policy's or engine's class name, with its model for LLM ones (for provenance)."""
    model = getattr(getattr(component, "teacher", None), "name", None)
    name = type(component).__name__
    return f"{name}({model})" if isinstance(model, str) else name


def _teacher_health(agent: Agent, iteration: int, observation: Any) -> dict[str, Any] | None:
    """The engine's report of how much of ``iteration`` its teacher delivered (LLM engines
    have one: ``teacher_health(iteration, budget)``); None for engines without."""
    probe = getattr(getattr(agent, "engine", None), "teacher_health", None)
    if not callable(probe):
        return None
    budget = min(observation.budget_per_iteration, observation.budget_left)
    health = probe(iteration, budget)
    return dict(health) if health is not None else None


def _stop_degraded(
    agent: Agent, iteration: int, health: dict[str, Any], folder: RunFolder | None
) -> TeacherDegraded:
    """Record a degraded iteration and the one line the run stops with."""
    on_degraded = getattr(getattr(agent, "engine", None), "on_degraded", None)
    if callable(on_degraded):
        on_degraded()
    where = "."
    if folder is not None:
        folder.event("teacher_degraded", iteration=iteration, **health)
        where = (
            f"; {iteration - 1} finished iteration(s) kept in {folder.root}: fix the endpoint "
            f"and continue with `dataenvgym run --resume {folder.root}`"
        )
    calls = f" ({health['calls']})" if health.get("calls") else ""
    return TeacherDegraded(
        f"teacher of {agent.name} unusable in iteration {iteration}: {health['reason']}{calls}"
        f"; stopped before training on it{where}, or pass --allow-degraded to train on "
        "whatever it delivers"
    )


def _health_summary(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The episode's teacher health, from the rows' ``teacher_health`` (None: not reported)."""
    reported = [(r["iteration"], r["teacher_health"]) for r in rows if r.get("teacher_health")]
    if not reported:
        return None
    budget = sum(h["budget"] for _, h in reported)
    decisions = sum(h["policy_decisions"] for _, h in reported)
    return {
        "degraded": any(h["degraded"] for _, h in reported),
        "degraded_iterations": [i for i, h in reported if h["degraded"]],
        "delivered_share": round(sum(h["delivered"] for _, h in reported) / budget, 4)
        if budget
        else 1.0,
        "lowest_delivered_share": min(h["delivered_share"] for _, h in reported),
        "policy_fallback_share": round(
            sum(h["policy_fallbacks"] for _, h in reported) / decisions, 4
        )
        if decisions
        else 0.0,
        "by_iteration": {str(i): h for i, h in reported},
    }


def run_episode(
    env: gym.Env[Any, Any],
    agent: Agent,
    *,
    seed: int,
    out_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    test_every_iteration: bool = True,
    hooks: EpisodeHooks | None = None,
    resume: bool = False,
    allow_degraded: bool = False,
    strict_resume: bool = False,
) -> dict[str, Any]:
    """Run one episode of ``agent`` in ``env`` and return (and write) its summary.

    With ``out_dir``, a checkpoint is written after every finished iteration; ``resume=True``
    continues from the newest intact one in ``out_dir`` (or starts afresh if there is none),
    and the summary equals an uninterrupted run's, wall-time fields aside. A damaged
    checkpoint is renamed aside and the one before it used (``hooks.on_notice`` hears of
    it), unless ``strict_resume``: then :class:`~dataenvgym.checkpoint.CheckpointError`.

    An engine that reports its teacher's health (LLM engines) is checked after every plan:
    a degraded iteration (too little usable data, see ``TeacherOptions``) raises
    :class:`~dataenvgym.errors.TeacherDegraded` before training on it, unless
    ``allow_degraded``; the health of every iteration goes into its report and the summary.
    """
    hooks = hooks or EpisodeHooks()
    teacher_env: TeacherEnv[Any, Any] = env.unwrapped  # type: ignore[assignment]
    folder = RunFolder(out_dir) if out_dir is not None else None
    started = time.perf_counter()

    def notify(message: str) -> None:
        if folder is not None:
            folder.event("resume_notice", message=message)
        if hooks.on_notice:
            hooks.on_notice(message)
        else:
            warnings.warn(message, ResumeWarning, stacklevel=3)

    # Verified, read (and refused if of other numerics) before the reset, which may
    # pretrain a base student.
    selected = select_checkpoint(folder.root, strict=strict_resume) if folder and resume else None
    saved = selected.path if selected is not None else None
    checkpoint = selected.checkpoint if selected is not None else None
    for note in selected.notes if selected is not None else []:
        notify(note)
    if folder is not None and not saved:
        # First, so that a crash even during pretraining leaves a folder `--resume` accepts.
        folder.write_config(config or {})

    # 1. Reset: build (or load) the base student, evaluate it on validation and on test.
    observation, info = env.reset(seed=seed)
    base_seconds = time.perf_counter() - started
    initial_val = info["val_accuracy"]
    agent.reset(seed)
    seen = [observation]  # kept for agents that must be replayed on resume
    if folder is not None and selected is not None and saved and checkpoint is not None:
        remove_staging(folder.root)
        try:
            agent = restore(checkpoint, saved, teacher_env, agent, verified=selected.verified)
        except DamagedCheckpointError as err:  # only a checkpoint without a manifest
            if strict_resume:
                raise strict_refusal(err) from err
            if not has_fallback(folder.root, saved):
                raise no_fallback(err) from err
            notify(set_aside_note(err))
            # The agent is untouched (the student is loaded first): reset and try the next.
            return run_episode(
                env,
                agent,
                seed=seed,
                out_dir=out_dir,
                config=config,
                test_every_iteration=test_every_iteration,
                hooks=hooks,
                resume=True,
                allow_degraded=allow_degraded,
            )
        observation = checkpoint.observation
        seen = [*checkpoint.observations, observation]
        state = checkpoint.runner
        initial_val, initial_test = state["initial_val"], state["initial_test"]
        initial_scores, base_seconds = state["initial_scores"], state["base_seconds"]
        started -= state["elapsed_seconds"]  # wall time counts both parts of the run
        folder.event("resume", iteration=checkpoint.iteration)
    else:
        initial_test = teacher_env.evaluate_test()
        initial_scores = _scores(initial_test.report)
    attach_env = getattr(agent, "attach_env", None)
    if callable(attach_env):  # a privileged agent (the oracle) reads the environment itself
        attach_env(teacher_env)
    if folder is not None and saved is None:
        folder.event("reset", seed=seed, seconds=base_seconds)
        folder.write_iteration(
            0,
            plan=None,
            data=[],
            val_results=teacher_env.val_result.instances,
            report={"info": info, "test": initial_scores, **_state_extras(observation)},
        )

    # 2. Iterate: the agent plans and writes data, the environment trains and evaluates.
    rows: list[dict[str, Any]] = []
    test: EvaluationResult = initial_test
    test_scores = initial_scores
    done = False
    if saved is not None:
        rows, test, test_scores = state["rows"], state["test"], state["test_scores"]
        done = state["done"]
    while not done:
        iteration = teacher_env.iteration + 1
        if hooks.on_iteration_start:
            hooks.on_iteration_start(iteration)
        action = agent.act(observation)
        health = _teacher_health(agent, iteration, observation)
        if health is not None and health["degraded"] and not allow_degraded:
            raise _stop_degraded(agent, iteration, health, folder)
        observation, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        tested = test_every_iteration or done
        if tested:
            test = teacher_env.evaluate_test()
            test_scores = _scores(test.report)
        row = {
            "iteration": iteration,
            "num_new_data": info["num_new_data"],
            "num_total_data": info["num_total_data"],
            "val_accuracy": info["val_accuracy"],
            "val_partial": info["val_partial"],
            "test_accuracy": test.report.accuracy,
            "test_measured": tested,  # False: test_accuracy is an earlier iteration's
            "reward": reward,
            "dropped": info["dropped"],
            "data_per_subskill": info["data_per_subskill"],
            "per_skill": info["per_skill"],
            "per_subskill": info["per_subskill"],
            "train_seconds": (info["train"] or {}).get("seconds"),
        }
        if health is not None:
            row["teacher_health"] = health
        rows.append(row)
        if folder is not None:
            folder.write_iteration(
                iteration,
                plan=action,
                data=teacher_env.accumulated[-info["num_new_data"] :]
                if info["num_new_data"]
                else [],
                val_results=teacher_env.val_result.instances,
                report={
                    "info": info,
                    "test": test_scores,
                    "test_measured": tested,
                    "reward": reward,
                    **({"teacher_health": health} if health is not None else {}),
                    **_state_extras(observation),
                },
            )
            folder.event("step", iteration=iteration, reward=reward, **info["dropped"])
            if isinstance(teacher_env.student, AdapterStudent):  # e.g. the hf student's LoRA
                teacher_env.student.save_adapter(folder.iteration_dir(iteration) / "adapter")
            seen.append(observation)
            runner_state = {
                "initial_val": initial_val,
                "initial_test": initial_test,
                "initial_scores": initial_scores,
                "base_seconds": base_seconds,
                "rows": rows,
                "test": test,
                "test_scores": test_scores,
                "done": done,
                "elapsed_seconds": time.perf_counter() - started,
                "config": config,
            }
            save_checkpoint(folder.root, teacher_env, agent, seen, runner_state)
        if hooks.on_iteration_end:
            hooks.on_iteration_end(iteration, row)

    # 3. Summarise: before -> after on the held-out test split.
    summary = {
        "env": teacher_env.env_name,
        "domain": teacher_env.domain.name,
        "agent": agent.name,
        "privileged": agent.privileged,
        "agent_revision": agent.revision,
        # A board pairs runs only of the same version of the domain (generators, scorer).
        "domain_version": getattr(teacher_env.domain, "version", None),
        # Episodes of one seed pair only when they ran with the same numerics (numerics.py).
        "numerics": describe_numerics(),
        "teacher": {
            "policy": _component_name(agent.policy),
            "engine": _component_name(agent.engine),
        },
        "seed": seed,
        "initial": {
            "val_accuracy": initial_val,
            "test_accuracy": initial_test.report.accuracy,
            "test_per_skill": initial_scores["per_skill"],
            "test_per_subskill": initial_scores["per_subskill"],
        },
        "final": {
            "val_accuracy": rows[-1]["val_accuracy"],
            "test_accuracy": test.report.accuracy,
            "test_per_skill": test_scores["per_skill"],
            "test_per_subskill": test_scores["per_subskill"],
        },
        "iterations": rows,
        "total_training_data": rows[-1]["num_total_data"],
        "base_student_seconds": base_seconds,
        "wall_seconds": time.perf_counter() - started,
    }
    health_summary = _health_summary(rows)
    if health_summary is not None:
        summary["teacher_health"] = health_summary
    if folder is not None:
        config_file = folder.root / "config.yaml"
        if config_file.is_file():
            # Readers of a finished run check config.yaml against it: a damaged copy that
            # still parses (cut at a line end) would otherwise pass for the run's settings.
            summary["config_sha256"] = file_digest(config_file)
        folder.write_summary(summary)
        folder.event("end", wall_seconds=summary["wall_seconds"])
    return summary
