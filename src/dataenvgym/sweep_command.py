"""`dataenvgym sweep SWEEP.yaml`: the command line of :mod:`dataenvgym.sweep`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dataenvgym.errors import DataEnvGymError

console = Console()


def _fail(message: str) -> None:
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _pm(mean: float, se: float) -> str:
    return f"{mean:.3f}" if math.isnan(se) else f"{mean:.3f} ± {se:.3f}"


def print_results(rows: list[dict[str, Any]], grid: list[str]) -> None:
    """One row per episode, then the mean over seeds of each other combination."""
    from dataenvgym.sweep import grouped

    table = Table(title="sweep: test accuracy per episode")
    for key in grid:
        table.add_column(key)
    for column in ("before", "after", "gain", "data", "seconds"):
        table.add_column(column, justify="right")
    for row in rows:
        cells = [str(row[key]) for key in grid]
        if row["status"] != "ok":
            table.add_row(*cells, "[red]failed[/]", row["error"][:60], "", "", "")
            continue
        table.add_row(
            *cells,
            f"{row['initial_test']:.3f}",
            f"{row['final_test']:.3f}",
            f"{row['gain']:+.3f}",
            str(row["training_data"]),
            f"{row['wall_seconds']:.1f}",
        )
    console.print(table)
    if "seed" in grid and len({row["seed"] for row in rows}) > 1:
        summary = Table(title="mean ± standard error over seeds")
        keys = [k for k in grid if k != "seed"]
        for key in [*keys, "episodes", "final test", "gain"]:
            summary.add_column(key, justify="left" if key in keys else "right")
        for group in grouped(rows, grid):
            summary.add_row(
                *(str(group[k]) for k in keys),
                str(group["episodes"]),
                _pm(group["final_test"], group["final_test_se"]),
                _pm(group["gain"], group["gain_se"]),
            )
        console.print(summary)


def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep file (YAML: base, grid, resources).")],
    executor: Annotated[
        str, typer.Option(help="local (this machine) | ray (Ray tasks on a cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="With --executor ray: the cluster to join (auto, HOST:PORT or "
            "ray://HOST:10001). Default: a private cluster on this machine, on loopback."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="With --executor local: episodes run in parallel.")
    ] = 1,
    num_cpus: Annotated[
        int | None, typer.Option(help="CPUs of the local Ray cluster (default: all).")
    ] = None,
    cpus_per_episode: Annotated[
        float | None, typer.Option(help="CPUs per episode (overrides the file).")
    ] = None,
    gpus_per_episode: Annotated[
        float | None, typer.Option(help="GPUs per episode (overrides the file).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep folder (default runs/<name>).")] = None,
) -> None:
    """Run a grid of episodes and print one comparison table (also results.json/.csv)."""
    from dataenvgym.grid import GridProgress
    from dataenvgym.sweep import load_sweep, run_sweep

    try:
        if executor not in ("local", "ray"):
            raise DataEnvGymError(f"unknown executor {executor!r}; choose local or ray")
        if address is not None and executor != "ray":
            raise DataEnvGymError("--address joins a Ray cluster; add --executor ray")
        config = load_sweep(spec)
        updates = {"cpus_per_episode": cpus_per_episode, "gpus_per_episode": gpus_per_episode}
        resources = config.resources.model_copy(
            update={k: v for k, v in updates.items() if v is not None}
        )
        config = config.model_copy(update={"resources": resources})
        out_dir = out or Path("runs") / config.name
        count = len(config.episodes())
        console.print(f"{count} episodes, executor {executor}, run folders under {out_dir}")

        points = {name: cfg for name, cfg in config.episodes()}

        def progress(name: str, summary: dict[str, Any], counts: GridProgress) -> None:
            if "error" in summary:
                # The failed episode's grid point, so that it can be found and run alone.
                point = " ".join(f"{k}={getattr(points[name], k)}" for k in config.grid)
                console.print(f"[red]failed[/] {name} ({point}): {summary['error']}")
            else:
                final = summary["final"]["test_accuracy"]
                console.print(f"done {name}: test {final:.3f}")
            console.print(f"  {counts.line()}", highlight=False)

        rows = run_sweep(
            config,
            out_dir,
            executor=executor,  # type: ignore[arg-type]
            address=address,
            num_cpus=num_cpus,
            workers=workers,
            progress=progress,
        )
    except DataEnvGymError as err:
        _fail(str(err))
        return
    print_results(rows, list(config.grid))
    console.print(f"results: {out_dir / 'results.json'}, {out_dir / 'results.csv'}")
    if any(row["status"] != "ok" for row in rows):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""
    app.command("sweep")(sweep)
