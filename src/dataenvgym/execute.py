"""One episode from a run config: the environment, the agent, progress bars and an LLM
teacher's session, run to a summary.

Below the command line on purpose: the CLI, sweeps and leaderboard boards all run episodes
through :func:`execute_run`, and none of them may import :mod:`dataenvgym.cli` (which imports
them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dataenvgym.config import RunConfig

console = Console()


def episode_progress() -> Progress:
    """The bars of one episode: pretraining, then each iteration's training."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )


def execute_run(
    config: RunConfig,
    out_dir: Path | None,
    *,
    show_progress: bool = True,
    resume: bool = False,
    allow_degraded: bool = False,
    strict_resume: bool = False,
) -> dict:
    """Build the environment and agent of ``config``, run one episode, return its summary.

    With ``resume``, continue ``out_dir`` from its newest intact checkpoint (see ``run
    --resume``; ``strict_resume``: refuse to fall back from a damaged one).
    With ``allow_degraded``, an LLM teacher that delivers (almost) no usable data does not
    stop the run (see docs/llm-teachers.md).
    """
    from dataenvgym.registry import make_agent, make_env
    from dataenvgym.runner import EpisodeHooks, run_episode

    teacher, discovery = llm_parts(config, out_dir)
    env = make_env(**config.env_kwargs(), skill_discovery=discovery)
    skills = discovery.skills if discovery is not None else None
    agent = make_agent(config.agent, config.env, env.domain, teacher=teacher, catalogue=skills)
    progress = episode_progress()
    factory: Any = env.student_factory
    # Only students that pretrain a base (the built-in one) report pretraining progress.
    pretrain_steps = getattr(getattr(factory, "pretrain", None), "steps", None)
    pretrain_task = progress.add_task(
        "pretraining base student", total=pretrain_steps, note="", visible=False
    )
    train_task = progress.add_task("training", total=None, note="", visible=False)

    def on_pretrain(step: int, loss: float) -> None:
        progress.update(pretrain_task, completed=step, visible=True, note=f"loss {loss:.3f}")

    def on_train(step: int, loss: float) -> None:
        # The trainer counts this iteration's steps from its data just before fitting.
        total = getattr(env.trainer, "planned_steps", None) or None
        progress.update(train_task, completed=step, total=total, note=f"loss {loss:.3f}")

    if hasattr(factory, "on_pretrain_progress"):
        factory.on_pretrain_progress = on_pretrain

    def start(iteration: int) -> None:
        if hasattr(env.student, "progress"):
            env.student.progress = on_train
        progress.update(
            train_task,
            description=f"iteration {iteration}/{config.iterations}: training",
            completed=0,
            total=None,
            visible=True,
        )

    def end(iteration: int, row: dict[str, Any]) -> None:
        progress.console.print(
            f"iteration {iteration}: val {row['val_accuracy']:.3f} "
            f"(reward {row['reward']:+.3f}), test {row['test_accuracy']:.3f}, "
            f"data {row['num_new_data']} kept / {row['dropped']['total']} dropped"
        )

    with progress if show_progress else nullcontext(), llm_session(teacher):
        summary = run_episode(
            env,
            agent,
            seed=config.seed,
            out_dir=out_dir,
            config=config.model_dump(mode="json"),
            test_every_iteration=config.test_every_iteration,
            hooks=EpisodeHooks(
                on_iteration_start=start,
                on_iteration_end=end,
                on_notice=lambda message: typer.echo(f"warning: {message}", err=True),
            ),
            resume=resume,
            allow_degraded=allow_degraded,
            strict_resume=strict_resume,
        )
    return summary


def llm_parts(cfg: RunConfig, out_dir: Path | None) -> tuple[Any, Any]:
    """The LLM teacher and (for ``skills: llm``) its skill discovery; (None, None) offline."""
    if cfg.teacher == "procedural":
        return None, None
    from dataenvgym.agents.llm.setup import build_llm_run

    return build_llm_run(
        cfg.teacher, cfg.base_url, cfg.llm, skills=cfg.skills, domain=cfg.domain, run_dir=out_dir
    )


@contextmanager
def llm_session(teacher: Any) -> Iterator[None]:
    """An LLM error met mid-run becomes one line; usage is written and shown at the end."""
    if teacher is None:
        yield
        return
    from dataenvgym.agents.llm.setup import teacher_errors

    try:
        with teacher_errors():
            yield
    finally:
        teacher.close()
    report = teacher.usage_report()
    usage, engine = report["usage"]["total"], report["engine"]["total"]
    where = f"; usage in {teacher.run_dir / 'llm_usage.json'}" if teacher.run_dir else ""
    console.print(
        f"LLM teacher {teacher.name}: {usage['calls']} calls ({usage['cache_hits']} from cache), "
        f"{usage['prompt_tokens'] + usage['completion_tokens']} tokens, {usage['retries']} "
        f"retries, {usage['failures']} failures; engine kept {engine.get('kept', 0)}, dropped "
        f"{engine['dropped_total']}{where}"
    )
