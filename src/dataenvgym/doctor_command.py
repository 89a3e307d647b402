"""`dataenvgym doctor`: what this machine gives the parts that depend on it.

Today that is the code sandbox: which isolation level is in force (bubblewrap, hand-made
namespaces, a uid per run, or rlimits only) and what each layer enforces.
"""

from __future__ import annotations

import json

import typer


def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Show which isolation the code sandbox has on this machine."""
    from dataenvgym.domains.code.sandbox import isolation_report

    report = isolation_report()
    if as_json:
        typer.echo(json.dumps(report.model_dump(), indent=2))
        return
    typer.echo("code sandbox")
    for line in report.lines():
        typer.echo(f"  {line}")


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` command to ``app``."""
    app.command("doctor")(doctor)
