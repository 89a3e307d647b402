"""`dataenvgym leaderboard`: run a suite (reusing finished runs) and write the board."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from rich.console import Console

from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.numerics import Numerics, board_numerics

# The board has ten columns: a pipe or a log file gets a wide page instead of 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=160)


def _fail(message: str) -> None:
    message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"empty list {text!r}; give comma-separated names")
    return names


def _seeds(text: str | None) -> list[int] | None:
    names = _names(text)
    if names is None:
        return None
    try:
        return [int(n) for n in names]
    except ValueError as err:
        raise ConfigError(f"--seeds takes comma-separated integers, got {text!r}") from err


def leaderboard(
    agents: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated agents: built-in names, entry points of group "
            "dataenvgym.agents, or module:factory paths. no-state and oracle are always run "
            "(they are the score's references). Default: with-state,no-state,oracle."
        ),
    ] = None,
    suite: Annotated[
        Path | None, typer.Option(help="Suite file (YAML) defining a custom suite.")
    ] = None,
    domains: Annotated[
        str | None, typer.Option(help="Comma-separated domains (default: every built-in one).")
    ] = None,
    envs: Annotated[str | None, typer.Option(help="Comma-separated environments.")] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Comma-separated seeds (default 0,1,2).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Board folder (default runs/leaderboard-<suite name>).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Episodes run in parallel on this machine (with --executor ray and no "
            "--address: the private cluster's size, in episodes).",
        ),
    ] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Torch threads per episode.")] = 1,
    run: Annotated[
        bool, typer.Option(help="Run missing episodes (--no-run: board from finished runs).")
    ] = True,
    numerics: Annotated[
        str,
        typer.Option(
            help="portable: floating point capped at AVX2, so that runs from any x86 machine "
            "pair and merge (the same seed gives the same bits); native: this machine's "
            "widest instruction set, its own numbers only."
        ),
    ] = "portable",
    executor: Annotated[
        str,
        typer.Option(help="local (this machine) | ray (Ray tasks on a cluster, see --address)."),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="With --executor ray: the cluster to join (auto, HOST:PORT or "
            "ray://HOST:10001). Default: a private cluster on this machine, on loopback."
        ),
    ] = None,
    merge: Annotated[
        list[Path] | None,
        typer.Option(
            help="A leaderboard.json whose archived runs count as finished episodes where "
            "this board has no finished run folder (repeatable): boards run elsewhere, or "
            "whose run folders are gone, combine into one."
        ),
    ] = None,
) -> None:
    """Score agents on a suite: normalized teaching score, data efficiency, gains.

    Runs each domain × environment × seed for every agent (finished runs are reused, so it
    resumes), prints the board and writes leaderboard.md/.csv/.json/.html.
    """
    from dataenvgym.grid import GridProgress
    from dataenvgym.grid.jobs import Executor
    from dataenvgym.leaderboard.archive import archive_records, config_key, load_archive
    from dataenvgym.leaderboard.board import build_board
    from dataenvgym.leaderboard.render import rich_table, write_board
    from dataenvgym.leaderboard.suite import (
        EpisodeResult,
        LeaderboardSuite,
        check_suite,
        finished_summary,
        is_current,
        load_suite,
        run_suite,
    )

    try:
        if numerics not in get_args(Numerics):
            raise ConfigError(f"--numerics is portable or native, got {numerics!r}")
        mode = cast(Numerics, numerics)
        target = board_numerics(mode)
        config = load_suite(suite) if suite is not None else LeaderboardSuite()
        updates = {
            "agents": _names(agents),
            "domains": _names(domains),
            "envs": _names(envs),
            "seeds": _seeds(seeds),
        }
        config = LeaderboardSuite.model_validate(
            {**config.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
        )
        episodes = check_suite(config)
        out_dir = out or Path("runs") / f"leaderboard-{config.name}"
        suite_order = {e.folder_name: index for index, e in enumerate(episodes)}
        archived: dict[str, dict[str, Any]] = {}
        for path in merge or []:
            archived.update(load_archive(path))
        in_archive = [(e, archived.get(config_key(e.config))) for e in episodes]
        found = [(e, summary) for e, summary in in_archive if summary is not None]
        # A run of an older revision of the agent, or with other numerics, is no run of it.
        current = [(e, s) for e, s in found if is_current(e.config, s, target)]
        stale = len(found) - len(current)
        merged = [
            EpisodeResult(e, "merged", summary)
            for e, summary in current
            # A finished run folder wins over an archived run of the same episode.
            if finished_summary(e, _folder(out_dir, e), target) is None
        ]
        merged_names = {r.episode.folder_name for r in merged}
        episodes = [e for e in episodes if e.folder_name not in merged_names]
        console.print(
            f"{len(episodes)} episodes ({', '.join(config.all_agents())})"
            + (f" and {len(merged)} merged from {len(merge or [])} board(s)" if merged else "")
            + (
                f" ({stale} archived runs of an older agent revision or other numerics left out)"
                if stale
                else ""
            )
            + f", board in {out_dir}"
        )
        if executor not in ("local", "ray"):
            raise ConfigError(f"unknown executor {executor!r}; choose local or ray")
        if address is not None and executor != "ray":
            raise ConfigError("--address joins a Ray cluster; add --executor ray")

        def progress(result: EpisodeResult, counts: GridProgress) -> None:
            name = result.episode.folder_name
            if result.status == "failed":
                # Its settings in full, so that it can be found and run again alone.
                c = result.episode.config
                point = f"{c.domain} / {c.env} / {c.agent} / seed {c.seed}"
                console.print(f"[red]failed[/] {name} ({point}): {result.error}")
            elif result.status not in ("reused", "merged"):
                assert result.summary is not None
                final = result.summary["final"]["test_accuracy"]
                console.print(f"{result.status} {name}: test {final:.3f}")
            else:
                return
            console.print(f"  {counts.line()}", highlight=False)

        if run:
            results = run_suite(
                episodes,
                out_dir,
                workers=workers,
                threads=threads,
                numerics=mode,
                progress=progress,
                executor=cast(Executor, executor),
                address=address,
            )
        else:
            results = []
            for episode in episodes:
                folder = _folder(out_dir, episode)
                summary = finished_summary(episode, folder, target, strict=True)
                status = "reused" if summary is not None else "missing"
                results.append(EpisodeResult(episode, status, summary, folder=folder))
    except DataEnvGymError as err:
        _fail(str(err))
        return
    results = sorted([*results, *merged], key=lambda r: suite_order[r.episode.folder_name])
    done = [r for r in results if r.summary is not None]
    reused = sum(r.status in ("reused", "merged") for r in results)
    board = build_board(
        (r.episode.setting, r.episode.config.agent, r.episode.config.seed, r.summary)
        for r in done
        if r.summary is not None
    )
    board.failed = [
        *(f"{r.episode.folder_name}: {r.error}" for r in results if r.status == "failed"),
        *board.failed,  # runs refused for a degraded teacher
    ]
    missing = sum(r.status == "missing" for r in results)
    console.print(rich_table(board))
    archive = archive_records((r.episode.config, r.summary) for r in done if r.summary is not None)
    paths = write_board(board, out_dir, f"dataenvgym leaderboard: {config.name}", archive)
    console.print(
        f"{len(done)} episodes on the board ({reused} reused"
        + (f", {len(merged)} of them merged" if merged else "")
        + f", {len(done) - reused} run now"
        + (f", {missing} missing" if missing else "")
        + f"); {', '.join(str(p) for p in paths.values())}"
    )
    if board.failed:
        raise typer.Exit(code=1)


def _folder(out_dir: Path, episode: Any) -> Path:
    return out_dir / "runs" / episode.folder_name


def register(app: typer.Typer) -> None:
    """Add the ``leaderboard`` command to ``app``."""
    app.command("leaderboard")(leaderboard)
