"""Sweeps: a grid of episodes (envs × agents × seeds × teachers × domains × ...) run one by
one or as Ray tasks, collected into one comparison table.

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
import os
import re
import secrets
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataenvgym.config import RunConfig
from dataenvgym.errors import ConfigError, DataEnvGymError

Executor = Literal["local", "ray"]


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


def run_one(config: dict[str, Any], out_dir: str, threads: int) -> dict[str, Any]:
    """Run (or resume, or just read) one episode; a Ray task, or a plain call.

    Returns:
        The episode's summary, or ``{"error": message}`` for a bad-input failure.
    """
    import torch

    from dataenvgym.checkpoint import read_run_folder
    from dataenvgym.cli import execute_run

    torch.set_num_threads(threads)
    folder = Path(out_dir)
    cfg = RunConfig.model_validate(config)
    try:
        if (folder / "config.yaml").is_file():
            _, finished = read_run_folder(folder)
            if finished is not None:
                return finished
            return execute_run(cfg, folder, show_progress=False, resume=True)
        return execute_run(cfg, folder, show_progress=False)
    except DataEnvGymError as err:
        return {"error": str(err)}


def warm_base_student(config: dict[str, Any], threads: int) -> None:
    """Pretrain (and cache) one base student, so that parallel episodes share it."""
    import torch

    from dataenvgym.registry import make_env

    torch.set_num_threads(threads)
    cfg = RunConfig.model_validate(config)
    make_env(**cfg.env_kwargs()).reset(seed=cfg.seed)


def _base_key(cfg: RunConfig) -> str:
    fields = ("domain", "domain_config", "student", "student_config", "pretrain", "seed")
    return json.dumps(cfg.model_dump(mode="json", include=set(fields)), sort_keys=True)


# --------------------------------------------------------------------------- executors

Progress = Callable[[str, dict[str, Any]], None]


def _run_local(
    jobs: list[tuple[str, RunConfig, Path]], threads: int, progress: Progress
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for name, cfg, folder in jobs:
        try:
            results.append(run_one(cfg.model_dump(mode="json"), str(folder), threads))
        except Exception as err:  # a crashed episode: report it, keep the others
            results.append({"error": f"{type(err).__name__}: {_first_line(err)}"})
        progress(name, results[-1])
    return results


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """``ray.init`` for a sweep, and ``ray.shutdown`` after.

    Without ``address`` a private local cluster is started. Ray 2.59+ turns token
    authentication on for it and writes the token to ``~/.ray/auth_token``; unless you set
    ``RAY_AUTH_MODE``/``RAY_AUTH_TOKEN``/``RAY_AUTH_TOKEN_PATH`` yourself, the sweep instead
    hands the cluster a fresh random token through the environment: authentication stays on,
    nothing is written to your home folder, and it works where that folder is read-only.
    With ``address`` the cluster's own token is needed (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, as Ray reads them).
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "the ray executor needs Ray: pip install 'dataenvgym[ray]' (or use --executor local)"
        )
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    own_token = address is None and not any(
        os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    )
    imported_before = "ray" in sys.modules
    if own_token:
        # Before `import ray`: Ray reads the auth settings once, when it loads.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    import ray

    if own_token and imported_before:
        _reload_ray_auth()
    # Workers find the same base-student cache as this process.
    env_vars = {k: os.environ[k] for k in ("DATAENVGYM_CACHE",) if k in os.environ}
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            runtime_env={"env_vars": env_vars} if env_vars else None,
            log_to_driver=False,
        )
    except Exception as err:  # Ray raises ConnectionError, RuntimeError, ... for one cause
        _restore(saved)
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ConfigError(
            f"could not start or join {where} ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); check the address, and for a "
            "token-authenticated cluster set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH to its token"
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()
        _restore(saved)


def _reload_ray_auth() -> None:
    """Make an already imported Ray read the auth settings again (its own tests do so)."""
    import importlib

    raylet = importlib.import_module("ray._raylet")
    if hasattr(raylet, "AuthenticationTokenLoader"):  # Ray >= 2.52
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _run_ray(
    jobs: list[tuple[str, RunConfig, Path]],
    resources: SweepResources,
    progress: Progress,
    *,
    address: str | None,
    num_cpus: int | None,
) -> list[dict[str, Any]]:
    threads = max(1, int(resources.cpus_per_episode))
    options = {"num_cpus": resources.cpus_per_episode, "num_gpus": resources.gpus_per_episode}
    with ray_session(address, num_cpus) as ray:
        # Each distinct base student is pretrained once, in parallel, before the episodes.
        todo = [cfg for _, cfg, folder in jobs if not (folder / "summary.json").is_file()]
        bases = {_base_key(cfg): cfg for cfg in todo}
        warm = ray.remote(**options)(warm_base_student)
        ray.get([warm.remote(cfg.model_dump(mode="json"), threads) for cfg in bases.values()])
        task = ray.remote(max_retries=0, **options)(run_one)
        refs = {
            task.remote(cfg.model_dump(mode="json"), str(folder), threads): index
            for index, (_, cfg, folder) in enumerate(jobs)
        }
        results: list[dict[str, Any]] = [{} for _ in jobs]
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            index = refs[done[0]]
            try:
                results[index] = ray.get(done[0])
            except Exception as err:  # a crashed episode: report it, keep the others
                results[index] = {"error": f"{type(err).__name__}: {_first_line(err)}"}
            progress(jobs[index][0], results[index])
    return results


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_sweep(
    sweep: SweepConfig,
    out_dir: Path,
    *,
    executor: Executor = "local",
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run every episode of ``sweep`` into ``out_dir``; write and return the result rows.

    Writes ``sweep.yaml`` (the resolved sweep), one run folder per episode, and
    ``results.json`` / ``results.csv`` (one row per episode).
    """
    jobs = [(name, cfg, out_dir / name) for name, cfg in sweep.episodes()]
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)
    recorded = out_dir / "sweep.yaml"
    if recorded.is_file() and recorded.read_text() != resolved:
        raise ConfigError(
            f"{out_dir} holds a different sweep ({recorded}); pass --out to choose another folder"
        )
    recorded.write_text(resolved)
    report = progress or (lambda name, summary: None)
    if executor == "ray":
        summaries = _run_ray(jobs, sweep.resources, report, address=address, num_cpus=num_cpus)
    else:
        summaries = _run_local(jobs, max(1, int(sweep.resources.cpus_per_episode)), report)
    rows = [
        result_row(name, list(sweep.grid), cfg, summary, folder)
        for (name, cfg, folder), summary in zip(jobs, summaries, strict=True)
    ]
    write_results(rows, out_dir)
    return rows


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
