"""`dataenvgym check-domain NAME`: the contract check of a domain, for its authors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataenvgym.errors import DataEnvGymError


def check_domain(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A built-in domain, an entry point of group dataenvgym.domains, or a "
            "module:factory path. Default: the config's domain."
        ),
    ] = None,
    student: Annotated[
        str | None,
        typer.Option(help="The student whose limits the items must fit (default: the domain's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the splits checked.")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="A run config (YAML): its domain_config, student and settings apply."),
    ] = None,
) -> None:
    """Check a domain against its contract: one line per violation, exit code 2 if any.

    Splits non-empty and disjoint, every item's skill known, scorer and verifier returning
    their documented types, generators' data accepted by the domain's own verifier, prompts
    and answers within the student's limits. Nothing is trained.
    """
    from dataenvgym.config import load_config
    from dataenvgym.registry import domain_violations

    try:
        overrides = {"domain": name, "student": student, "seed": seed}
        cfg = load_config(config, overrides)
        violations = domain_violations(
            cfg.domain,
            domain_config=cfg.domain_config,
            student=cfg.student,
            student_config=cfg.student_config,
            pretrain_config=cfg.pretrain,
            seed=cfg.seed,
        )
    except DataEnvGymError as err:
        message = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(code=2) from None
    if violations:
        for violation in violations:
            typer.echo(f"error: {violation.line()}", err=True)
        typer.echo(
            f"domain {cfg.domain!r} breaks its contract in {len(violations)} way(s); "
            "nothing was trained",
            err=True,
        )
        raise typer.Exit(code=2)
    typer.echo(
        f"domain {cfg.domain!r}: contract holds for student {cfg.student!r} (seed {cfg.seed})"
    )


def register(app: typer.Typer) -> None:
    """Add ``check-domain`` to the ``dataenvgym`` command line."""
    app.command("check-domain")(check_domain)
