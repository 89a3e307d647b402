"""`dataenvgym` command line: run an episode, list what is available."""

from __future__ import annotations

import re
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from rich.console import Console
from rich.table import Table

from dataenvgym import check_command, doctor_command, sweep_command
from dataenvgym.agents.learned import command as learned_command
from dataenvgym.config import RunConfig, load_config
from dataenvgym.envs.registration import env_id, register_envs
from dataenvgym.errors import ConfigError, DataEnvGymError, InvalidActionError
from dataenvgym.execute import episode_progress as _progress
from dataenvgym.execute import execute_run
from dataenvgym.execute import llm_parts as _llm_parts
from dataenvgym.execute import llm_session as _llm_session
from dataenvgym.leaderboard import command as leaderboard_command
from dataenvgym.numerics import Numerics, call_with
from dataenvgym.report import commands as report_commands

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="DataEnvGym: teacher environments for data generation agents.",
)
console = Console()

__all__ = ["_llm_parts", "_llm_session", "_progress", "app", "execute_run", "main"]


def _fail(message: str) -> None:
    # Plain echo, not rich: the message must stay on one line whatever the terminal width.
    # Multi-line messages (pydantic's, an invalid action's) are folded onto that line.
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _check_teacher(cfg: RunConfig) -> None:
    """An LLM teacher's key and server, checked before the run folder is touched."""
    if cfg.teacher == "procedural":
        return
    try:
        from dataenvgym.agents.llm.setup import check_teacher
    except ImportError as err:  # the [llm] extra is not installed
        raise DataEnvGymError(str(err)) from None
    note = check_teacher(cfg.teacher, cfg.base_url, cfg.llm)
    if note:
        typer.echo(note, err=True)


def print_summary(summary: dict[str, Any]) -> None:
    """The per-skill table: test accuracy before -> after."""
    agent = summary["agent"] + (" (privileged)" if summary.get("privileged") else "")
    table = Table(title=f"{summary['env']} / {summary['domain']} / {agent}")
    table.add_column("skill / subskill")
    table.add_column("test before", justify="right")
    table.add_column("test after", justify="right")
    table.add_column("change", justify="right")
    before, after = summary["initial"], summary["final"]
    for key in before["test_per_subskill"]:
        a, b = before["test_per_subskill"][key], after["test_per_subskill"][key]
        table.add_row(key, f"{a:.3f}", f"{b:.3f}", f"{b - a:+.3f}")
    a, b = before["test_accuracy"], after["test_accuracy"]
    table.add_row("[bold]all[/]", f"{a:.3f}", f"{b:.3f}", f"[bold]{b - a:+.3f}[/]")
    console.print(table)
    console.print(
        f"wall time {summary['wall_seconds']:.1f} s "
        f"(base student {summary['base_student_seconds']:.1f} s), "
        f"{summary['total_training_data']} training data"
    )


@app.command()
def run(
    env: Annotated[str | None, typer.Option(help="open-ended | skill-list | skill-tree")] = None,
    domain: Annotated[str | None, typer.Option(help="Domain name (see `list`).")] = None,
    agent: Annotated[str | None, typer.Option(help="with-state | no-state")] = None,
    iterations: Annotated[int | None, typer.Option(help="Teaching iterations.")] = None,
    budget: Annotated[int | None, typer.Option(help="Training data per iteration.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<name>).")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config; flags override it.")] = None,
    teacher: Annotated[
        str | None, typer.Option(help="procedural (offline) | openai:MODEL (an LLM endpoint).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="LLM endpoint, e.g. http://localhost:8000/v1 (vLLM).")
    ] = None,
    skills: Annotated[
        str | None, typer.Option(help="gold (the domain's labels) | llm (LLM skill discovery).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
    report: Annotated[
        bool, typer.Option(help="Write report.html with figures into the run folder.")
    ] = True,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue this run folder from its last finished iteration."),
    ] = None,
    strict_resume: Annotated[
        bool,
        typer.Option(
            help="With --resume: stop (exit 2) when the newest checkpoint is damaged, instead "
            "of setting it aside and resuming from the newest intact one."
        ),
    ] = False,
    numerics: Annotated[
        str | None,
        typer.Option(
            help="portable: floating point capped at AVX2, so that a seed gives the same "
            "bits on every x86 machine; native: this machine's widest instruction set. The "
            "episode then runs in a fresh process started with them. Default: as this "
            "process started (native, unless the caps are in its environment)."
        ),
    ] = None,
    allow_degraded: Annotated[
        bool,
        typer.Option(
            "--allow-degraded",
            help="Go on when an LLM teacher delivers (almost) no usable data in an iteration "
            "(recorded as degraded; the leaderboard refuses such runs). Default: stop with "
            "exit code 2, every finished iteration kept for --resume.",
        ),
    ] = False,
) -> None:
    """Run one teaching episode and print test accuracy per skill, before -> after."""
    try:
        mode = _numerics_mode(numerics)
    except ConfigError as err:
        _fail(str(err))
        return
    if resume is not None:
        flags: dict[str, object] = {"--env": env, "--domain": domain, "--agent": agent}
        flags |= {"--iterations": iterations}
        flags |= {"--budget": budget, "--seed": seed, "--out": out, "--config": config}
        given = [flag for flag, value in flags.items() if value is not None]
        given += ["--overwrite"] if overwrite else []
        _resume_run(
            resume,
            given,
            report=report,
            numerics=mode,
            allow_degraded=allow_degraded,
            strict=strict_resume,
        )
        return
    if strict_resume:
        _fail("--strict-resume goes with --resume DIR; drop it, or name the run to resume")
        return
    try:
        cfg = load_config(
            config,
            {
                "env": env,
                "domain": domain,
                "agent": agent,
                "iterations": iterations,
                "budget": budget,
                "seed": seed,
                "teacher": teacher,
                "base_url": base_url,
                "skills": skills,
            },
        )
        from dataenvgym.registry import check_names

        # Before the run folder is touched: an unknown name must not cost an old run.
        check_names(domain=cfg.domain, agent=cfg.agent, student=cfg.student)
        _check_teacher(cfg)  # a missing key or a dead server: one line, before any work
        _check_buildable(cfg)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # A module:factory domain or agent names a folder with its safe characters only.
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{cfg.env}-{cfg.domain}-{cfg.agent}")
        out_dir = out or Path("runs") / f"{name}-s{cfg.seed}-{stamp}"
        if out_dir.exists() and not out_dir.is_dir():
            raise DataEnvGymError(f"run folder {out_dir} is a file; choose another --out")
        if out_dir.exists() and any(out_dir.iterdir()):
            if not overwrite:
                raise DataEnvGymError(
                    f"run folder {out_dir} already exists; pass --resume {out_dir} to continue "
                    "it, --overwrite to replace it or --out to choose another"
                )
            shutil.rmtree(out_dir)
        run = partial(execute_run, allow_degraded=allow_degraded)
        summary = call_with(mode, run, cfg, out_dir)
    except InvalidActionError as err:
        _fail(_invalid_action(cfg.agent, err))
        return
    except DataEnvGymError as err:
        _fail(str(err))
        return
    print_summary(summary)
    console.print(f"run folder: {out_dir}")
    if report:
        _report_for_run(out_dir)


def _invalid_action(agent: str, err: InvalidActionError) -> str:
    return (
        f"agent {agent!r} produced an invalid action, rejected before any training: {err}; "
        "fix the agent's policy or engine so that its action fits the environment"
    )


def _check_buildable(cfg: RunConfig) -> None:
    """Build (cheaply: nothing is trained) the env and agent, so bad settings fail early."""
    from dataenvgym.registry import make_agent, make_env

    env = make_env(**cfg.env_kwargs())
    if cfg.teacher == "procedural":  # an LLM teacher needs no procedural generators
        make_agent(cfg.agent, cfg.env, env.domain)


def _numerics_mode(text: str | None) -> Numerics | None:
    if text is None or text in get_args(Numerics):
        return cast(Numerics | None, text)
    raise ConfigError(f"--numerics is portable or native, got {text!r}")


def _resume_run(
    run_dir: Path,
    given: list[str],
    *,
    report: bool,
    numerics: Numerics | None = None,
    allow_degraded: bool = False,
    strict: bool = False,
) -> None:
    """`run --resume DIR`: continue an interrupted run from its last finished iteration."""
    from dataenvgym.checkpoint import read_run_folder

    try:
        if given:
            raise ConfigError(
                f"--resume continues {run_dir} with its own config.yaml; drop {', '.join(given)}"
            )
        cfg, finished = read_run_folder(run_dir)
        if finished is not None:
            print_summary(finished)
            console.print(f"run folder {run_dir} is already finished; nothing to resume")
            return
        if cfg.teacher != "procedural":
            from dataenvgym.agents.llm.setup import check_cache

            check_cache(cfg.teacher, cfg.base_url, cfg.llm, run_dir)  # local damage first
        _check_teacher(cfg)  # the endpoint may still be down: say so before any work
        # The runner refuses a checkpoint of other numerics than the ones it runs with.
        run = partial(execute_run, resume=True, allow_degraded=allow_degraded, strict_resume=strict)
        summary = call_with(numerics, run, cfg, run_dir)
    except InvalidActionError as err:
        _fail(_invalid_action(cfg.agent, err))
        return
    except DataEnvGymError as err:
        _fail(str(err))
        return
    print_summary(summary)
    console.print(f"run folder: {run_dir}")
    if report:
        _report_for_run(run_dir)


def _report_for_run(out_dir: Path) -> None:
    """The run's own report; a failure here must not hide that the run itself succeeded."""
    from dataenvgym.report import write_report

    try:
        path = write_report([out_dir], out_dir)
    except Exception as err:  # the run folder is complete either way
        typer.echo(f"warning: could not write report.html: {err}", err=True)
        return
    console.print(f"report: {path}")


@app.command("list")
def list_components() -> None:
    """Show environments, domains, agents and students."""
    from dataenvgym.envs.registration import plugin_domains
    from dataenvgym.plugins import AGENT_GROUP, DOMAIN_GROUP, STUDENT_GROUP, installed
    from dataenvgym.registry import AGENTS, DOMAINS, ENVS, STUDENTS

    register_envs()
    table = Table(title="environments (gymnasium ids)")
    table.add_column("id")
    table.add_column("env")
    table.add_column("domain")
    for domain in [*DOMAINS, *plugin_domains()]:
        for env in ENVS:
            table.add_row(env_id(env, domain), env, domain)
    console.print(table)

    def plugins(group: str, builtin: dict[str, Any]) -> dict[str, str]:
        # A plugin is shown with its target and the package that declares it.
        found = installed(group)
        return {
            name: f"plugin {p.target} (package {p.package})"
            for name, p in found.items()
            if name not in builtin
        }

    agents = {**AGENTS, **plugins(AGENT_GROUP, AGENTS)}
    students = {name: entry.description for name, entry in STUDENTS.items()}
    domains = {d: "built in, offline" for d in DOMAINS}
    for title, items in (
        ("agents", agents),
        (
            "teachers (--teacher)",
            {
                "procedural": "the domain's own generators write the data (offline, default)",
                "openai:MODEL": "an LLM over any OpenAI-compatible endpoint (--base-url)",
            },
        ),
        ("students", {**students, **plugins(STUDENT_GROUP, students)}),
        ("domains", {**domains, **plugins(DOMAIN_GROUP, domains)}),
    ):
        t = Table(title=title)
        t.add_column("name")
        t.add_column("what")
        for name, what in items.items():
            t.add_row(name, what)
        console.print(t)


report_commands.register(app)  # report, analyze, export
sweep_command.register(app)  # sweep
check_command.register(app)  # check-domain
leaderboard_command.register(app)  # leaderboard
doctor_command.register(app)  # doctor
learned_command.register(app)  # train-teacher


def main() -> None:  # pragma: no cover - console entry point
    app()
