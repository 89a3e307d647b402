"""The ``report``, ``analyze`` and ``export`` commands of the ``dataenvgym`` CLI.

They live here, beside what they drive, and are attached to the main Typer app in
:mod:`dataenvgym.cli`; heavy imports (matplotlib, datasets) happen only when one runs.
"""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from dataenvgym.errors import DataEnvGymError

console = Console()

RunsArg = Annotated[
    list[Path],
    typer.Argument(help="Run folders, or folders that contain run folders.", show_default=False),
]


class Analysis(str, enum.Enum):
    """The paper's analyses, one table each."""

    difficulty = "difficulty"
    frequency = "frequency"
    dynamics = "dynamics"
    teachers = "teachers"
    subskills = "subskills"


class Format(str, enum.Enum):
    jsonl = "jsonl"
    hf = "hf"
    chat = "chat"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def report(
    runs: RunsArg,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: the run folder for one run, else ./report)."),
    ] = None,
) -> None:
    """Write report.html (figures embedded) and figures/*.png for one or many runs."""
    from dataenvgym.report import build_report, find_runs

    try:
        loaded = find_runs(runs)
        target = out or (loaded[0].root if len(loaded) == 1 else Path("report"))
        path = build_report(loaded, target)
    except DataEnvGymError as err:
        _fail(str(err))
        return
    console.print(f"{len(loaded)} run(s) -> {path}")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def analyze(
    analysis: Annotated[Analysis, typer.Argument(help="Which analysis.")],
    runs: RunsArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead.")] = False,
    baseline: Annotated[str, typer.Option(help="Agent the teachers are compared to.")] = (
        "no-state"
    ),
) -> None:
    """Print one of the paper's analyses over the runs (mean ± std over seeds)."""
    from dataenvgym.report import analysis as analyses
    from dataenvgym.report import find_runs

    try:
        loaded = find_runs(runs)
    except DataEnvGymError as err:
        _fail(str(err))
        return
    table = {
        Analysis.difficulty: lambda: analyses.gain_by_difficulty(loaded),
        Analysis.frequency: lambda: analyses.gain_by_frequency(loaded),
        Analysis.dynamics: lambda: analyses.dynamics(loaded),
        Analysis.teachers: lambda: analyses.compare_teachers(loaded, baseline=baseline),
        Analysis.subskills: lambda: analyses.per_subskill_gain(loaded),
    }[analysis]()
    if as_json:
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in table.as_dicts()
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    # One table per (env, domain, agent) group: the group names are too wide for a column.
    by_group: dict[str, list[list[Any]]] = {}
    keyed = table.columns[0] == "group"
    for row in table.rows:
        by_group.setdefault(str(row[0]) if keyed else "", []).append(row[1:] if keyed else row)
    columns = table.columns[1:] if keyed else table.columns
    for group, cells in by_group.items():
        shown = RichTable(title=f"{table.title}\n{group}" if group else table.title)
        for i, column in enumerate(columns):
            shown.add_column(column, justify="left" if i == 0 else "right")
        for line in cells:
            shown.add_row(*(_cell(v) for v in line))
        console.print(shown)
    if table.note:
        console.print(table.note)


def export(
    run: Annotated[Path, typer.Argument(help="The run folder.", show_default=False)],
    out: Annotated[Path, typer.Option(help="A .jsonl file (jsonl, chat) or a folder (hf).")],
    fmt: Annotated[Format, typer.Option("--format", help="jsonl | hf | chat")] = Format.jsonl,
    system: Annotated[
        str | None, typer.Option(help="System message for every chat example.")
    ] = None,
) -> None:
    """Export the run's generated training data with skill labels and provenance."""
    from dataenvgym.report import export_run

    try:
        count = export_run(run, out, fmt.value, system=system)
    except DataEnvGymError as err:
        _fail(str(err))
        return
    console.print(f"{count} training data -> {out} ({fmt.value})")


def register(app: typer.Typer) -> None:
    """Attach the commands to the main app."""
    app.command()(report)
    app.command()(analyze)
    app.command()(export)
