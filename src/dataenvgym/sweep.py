"""Sweeps: a grid of episodes (envs × agents × seeds × teachers × domains × ...) run by the
grid runner (:mod:`dataenvgym.grid`: here, or as Ray tasks on a cluster), collected into one
comparison table.

A sweep file names the settings every episode shares (``base``, any :class:`RunConfig`
field) and the grid (``grid``: field -> list of values; the sweep is their product)::

    name: state-vs-no-state
    base: {iterations: 3, budget: 128}
    grid:
      env: [skill-list, skill-tree]
      agent: [with-state, no-state]
      seed: [0, 1, 2]
    resources: {cpus_per_episode: 1, gpus_per_episode: 0}

Each episode gets its own run folder under the sweep's folder, so a sweep that is started
again skips finished episodes and resumes interrupted ones from their checkpoints.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataenvgym.config import RunConfig
from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.grid import (
    GridJob,
    GridOptions,
    GridProgress,
    Outcome,
    ray_session,
    run_grid,
    warm_base,
)
from dataenvgym.grid.jobs import Executor

__all__ = ["Executor", "SweepConfig", "load_sweep", "ray_session", "run_sweep"]


class SweepResources(BaseModel):
    """What each episode asks of the machine (Ray schedules by it; torch uses the CPUs)."""

    model_config = ConfigDict(extra="forbid")

    cpus_per_episode: float = Field(default=1.0, gt=0, description="CPUs (= torch threads).")
    gpus_per_episode: float = Field(default=0.0, ge=0, description="GPUs (fractions allowed).")


class SweepConfig(BaseModel):
    """A sweep file: shared settings, the grid, and the resources per episode."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="sweep", description="Names the default output folder.")
    base: dict[str, Any] = Field(default_factory=dict, description="Settings of every episode.")
    grid: dict[str, list[Any]] = Field(description="RunConfig field -> values to sweep.")
    resources: SweepResources = Field(default_factory=SweepResources)

    def episodes(self) -> list[tuple[str, RunConfig]]:
        """Every grid point as (folder name, config), in the grid's order.

        Raises:
            ConfigError: a grid field that is not a setting, or a point that is invalid.
        """
        unknown = sorted(set(self.grid) - set(RunConfig.model_fields))
        if unknown:
            raise ConfigError(
                f"grid fields {unknown} are not run settings; use fields of a run config "
                f"({', '.join(sorted(RunConfig.model_fields))})"
            )
        empty = [key for key, values in self.grid.items() if not values]
        if empty:
            raise ConfigError(
                f"grid field {empty[0]!r} has no values; give it a list of one or more"
            )
        points = []
        for values in itertools.product(*self.grid.values()):
            point = dict(zip(self.grid, values, strict=True))
            try:
                config = RunConfig.model_validate({**self.base, **point})
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ConfigError(f"invalid sweep point {point}: {where}: {first['msg']}") from err
            points.append((_folder_name(point), config))
        return points


def _folder_name(point: dict[str, Any]) -> str:
    parts = [f"s{v}" if k == "seed" else str(v) for k, v in point.items()]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts)) or "episode"


def load_sweep(path: Path) -> SweepConfig:
    """Read and validate a sweep file.

    Raises:
        ConfigError: one line naming the file and the problem.
    """
    if not path.is_file():
        raise ConfigError(f"sweep file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where}: fix the syntax") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping with at least 'grid'")
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "sweep"
        raise ConfigError(f"invalid setting in {path}: {where}: {first['msg']}") from err
    from dataenvgym.registry import check_names

    # Every point must be a valid run before anything starts.
    for _, cfg in sweep.episodes():
        check_names(domain=cfg.domain, agent=cfg.agent, student=cfg.student)
    return sweep


# --------------------------------------------------------------------------- one episode


def run_one(config: dict[str, Any], out_dir: str, threads: int) -> Outcome:
    """Run, resume or read back one episode of a sweep (an :data:`EpisodeTask`).

    Returns:
        ``(status, summary)``, or ``("failed", message)`` for a bad-input failure.
    """
    import torch

    from dataenvgym.checkpoint import read_run_folder
    from dataenvgym.execute import execute_run

    torch.set_num_threads(threads)
    folder = Path(out_dir)
    cfg = RunConfig.model_validate(config)
    try:
        if (folder / "config.yaml").is_file():
            _, finished = read_run_folder(folder)
            if finished is not None:
                return "reused", finished
            return "resumed", execute_run(cfg, folder, show_progress=False, resume=True)
        return "ran", execute_run(cfg, folder, show_progress=False)
    except DataEnvGymError as err:
        return "failed", str(err)


def warm_base_student(config: dict[str, Any], threads: int) -> None:
    """Pretrain (and cache) one base student, so that parallel episodes share it."""
    warm_base(config, threads)


# --------------------------------------------------------------------------- running

#: Told of each finished episode: its name, its summary (or ``{"error": ...}``) and the
#: sweep's progress.
Progress = Callable[[str, dict[str, Any], GridProgress], None]


def run_sweep(
    sweep: SweepConfig,
    out_dir: Path,
    *,
    executor: Executor = "local",
    address: str | None = None,
    num_cpus: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run every episode of ``sweep`` into ``out_dir``; write and return the result rows.

    Writes ``sweep.yaml`` (the resolved sweep), one run folder per episode, and
    ``results.json`` / ``results.csv`` (one row per episode). ``executor``, ``address``,
    ``num_cpus`` and ``workers`` are the grid's (:class:`~dataenvgym.grid.GridOptions`).
    """
    episodes = sweep.episodes()
    jobs = [
        GridJob(cfg, out_dir / name, {key: getattr(cfg, key) for key in sweep.grid})
        for name, cfg in episodes
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)
    recorded = out_dir / "sweep.yaml"
    if recorded.is_file() and recorded.read_text() != resolved:
        raise ConfigError(
            f"{out_dir} holds a different sweep ({recorded}); pass --out to choose another folder"
        )
    recorded.write_text(resolved)
    options = GridOptions(
        executor=executor,
        address=address,
        num_cpus=num_cpus,
        workers=workers,
        threads=max(1, int(sweep.resources.cpus_per_episode)),
        cpus_per_episode=sweep.resources.cpus_per_episode,
        gpus_per_episode=sweep.resources.gpus_per_episode,
    )

    def report(job: GridJob, outcome: Outcome, counts: GridProgress) -> None:
        if progress is not None:
            progress(job.name, _summary(outcome), counts)

    outcomes = run_grid(jobs, run_one, options, report=report)
    rows = [
        result_row(job.name, list(sweep.grid), job.config, _summary(outcome), job.folder)
        for job, outcome in zip(jobs, outcomes, strict=True)
    ]
    write_results(rows, out_dir)
    return rows


def _summary(outcome: Outcome) -> dict[str, Any]:
    status, payload = outcome
    return {"error": str(payload)} if status == "failed" else payload


def result_row(
    name: str, grid: list[str], cfg: RunConfig, summary: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """One episode's line of the comparison: its grid values and its before -> after."""
    row: dict[str, Any] = {key: getattr(cfg, key) for key in grid}
    row["episode"] = name
    if "error" in summary:
        return {**row, "status": "failed", "error": summary["error"], "run_folder": str(folder)}
    initial, final = summary["initial"]["test_accuracy"], summary["final"]["test_accuracy"]
    return {
        **row,
        "status": "ok",
        "initial_test": initial,
        "final_test": final,
        "gain": final - initial,
        "final_val": summary["final"]["val_accuracy"],
        "training_data": summary["total_training_data"],
        "wall_seconds": summary["wall_seconds"],
        "run_folder": str(folder),
    }


def write_results(rows: list[dict[str, Any]], out_dir: Path) -> None:
    """``results.json`` and ``results.csv`` in ``out_dir``."""
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with (out_dir / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def grouped(rows: list[dict[str, Any]], grid: list[str]) -> list[dict[str, Any]]:
    """Mean and standard error over seeds of each combination of the other grid fields."""
    keys = [k for k in grid if k != "seed"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] == "ok":
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for values, members in groups.items():
        finals = [m["final_test"] for m in members]
        gains = [m["gain"] for m in members]
        out.append(
            {
                **dict(zip(keys, values, strict=True)),
                "episodes": len(members),
                "final_test": statistics.fmean(finals),
                "final_test_se": _se(finals),
                "gain": statistics.fmean(gains),
                "gain_se": _se(gains),
            }
        )
    return out


def _se(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
