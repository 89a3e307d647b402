"""`dataenvgym train-teacher`: train the learned teacher (see :mod:`.train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dataenvgym.errors import DataEnvGymError

console = Console()


def _settings(text: str) -> list[dict[str, str]]:
    settings = []
    for item in (part.strip() for part in text.split(",")):
        env, slash, domain = item.partition("/")
        if not slash or not env or not domain:
            raise DataEnvGymError(
                f"setting {item!r} is not ENV/DOMAIN (e.g. skill-list/arithmetic)"
            )
        settings.append({"env": env, "domain": domain})
    return settings


def train_teacher_command(
    out: Annotated[
        Path, typer.Option(help="Training folder: checkpoint.json and the learning curve.")
    ] = Path("runs/teacher"),
    settings: Annotated[
        str, typer.Option(help="Training settings, ENV/DOMAIN, comma-separated.")
    ] = "skill-list/arithmetic,skill-tree/arithmetic",
    seeds: Annotated[
        str, typer.Option(help="Training seeds, comma-separated (keep evaluation seeds apart).")
    ] = "1000,1001",
    iterations: Annotated[int, typer.Option(help="Teaching iterations per episode.")] = 3,
    budget: Annotated[
        int | None, typer.Option(help="Data per iteration (default: the domain's).")
    ] = None,
    episodes_per_candidate: Annotated[
        int, typer.Option(help="Episodes each candidate plays per generation.")
    ] = 1,
    generations: Annotated[int, typer.Option(help="Generations to reach in all.")] = 8,
    population: Annotated[int, typer.Option(help="Candidates per generation.")] = 8,
    elite: Annotated[int, typer.Option(help="Best candidates refitted to.")] = 3,
    init_std: Annotated[float, typer.Option(help="First generation's std of θ.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seeds the sampling of θ.")] = 0,
    threads: Annotated[int, typer.Option(help="Torch threads (one worker process).")] = 1,
) -> None:
    """Train a learned teacher by the cross-entropy method on episode returns.

    A checkpoint is written after every generation; the same command again continues from
    it (raise --generations to train on).
    """
    import torch

    from dataenvgym.agents.learned.cem import CEMConfig, Generation
    from dataenvgym.agents.learned.episodes import EpisodeSettings
    from dataenvgym.agents.learned.train import CHECKPOINT, CURVE_MD, train_teacher

    torch.set_num_threads(threads)
    try:
        episodes = EpisodeSettings.model_validate(
            {
                "settings": _settings(settings),
                "seeds": [int(s) for s in seeds.split(",") if s.strip()],
                "iterations": iterations,
                "budget": budget,
                "episodes_per_candidate": episodes_per_candidate,
            }
        )
        cem = CEMConfig(
            generations=generations,
            population=population,
            elite=elite,
            init_std=init_std,
            seed=seed,
        )
    except (ValueError, DataEnvGymError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err

    def progress(g: Generation) -> None:
        base = g.info.get("with_state_return")
        console.print(
            f"generation {g.generation}: population {g.population_return:.4f}, "
            f"best {max(g.returns):.4f}, mean θ {g.mean_return:.4f}"
            + (f", with-state {base:.4f}" if base is not None else "")
            + f" ({g.seconds:.0f} s)"
        )

    try:
        state = train_teacher(out, cem, episodes, on_generation=progress)
    except DataEnvGymError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err
    console.print(
        f"{state.generation} generations, {state.episodes + len(state.history)} episodes, "
        f"{state.seconds:.0f} s: {out / CHECKPOINT}, learning curve {out / CURVE_MD}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``train-teacher`` command to ``app``."""
    app.command("train-teacher")(train_teacher_command)
