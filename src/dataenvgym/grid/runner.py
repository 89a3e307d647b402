"""Running a grid's jobs: in this process, in local worker processes, or as Ray tasks.

With Ray, nothing assumes a filesystem shared between nodes: each distinct base student is
pretrained once (a task of its own) and travels to the episodes that start from it as bytes;
an episode's run folder travels to its worker (to resume or set aside what is there) and
back, and lands where the user asked for it.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dataenvgym.config import RunConfig
from dataenvgym.grid.cluster import ray_session
from dataenvgym.grid.jobs import EpisodeTask, GridJob, GridOptions, Outcome, base_key
from dataenvgym.grid.jobs import distinct_base_configs as _distinct
from dataenvgym.grid.progress import GridProgress
from dataenvgym.grid.transfer import add_missing, pack, place
from dataenvgym.numerics import PORTABLE_ENVIRONMENT, numerics_environment, runs_with, started_with

#: Called as each episode finishes: the job, what became of it, the grid's progress.
Report = Callable[[GridJob, Outcome, GridProgress], None]


def warm_base(config: dict[str, Any], threads: int) -> None:
    """Build (or load from the cache) the base student of one episode, and cache it."""
    import torch

    from dataenvgym.registry import make_env

    torch.set_num_threads(threads)
    cfg = RunConfig.model_validate(config)
    # reset builds the base student exactly as a run does, and caches it.
    make_env(**cfg.env_kwargs()).reset(seed=cfg.seed)


def run_grid(
    jobs: list[GridJob],
    task: EpisodeTask,
    options: GridOptions,
    *,
    report: Report | None = None,
    progress: GridProgress | None = None,
) -> list[Outcome]:
    """Run every job with ``task``; return their outcomes in the order of ``jobs``.

    Parallel executors start jobs in the order given. A job that fails (its task says so,
    or it crashes) is reported and the others go on.

    Args:
        jobs: The episodes to run.
        task: What runs one (see :data:`EpisodeTask`).
        options: Where and how many at a time.
        report: Told of each finished episode.
        progress: The grid's counts, for a grid some of whose episodes were read back
            before (default: a fresh one over ``jobs``).
    """
    counts = progress or GridProgress(total=len(jobs))
    tell = report or (lambda job, outcome, progress: None)

    def finished(index: int, outcome: Outcome) -> Outcome:
        counts.running = max(0, counts.running - 1)
        if outcome[0] == "failed":
            counts.failed += 1
        else:
            counts.done += 1
            counts.reused += outcome[0] == "reused"
        tell(jobs[index], outcome, counts)
        return outcome

    if not jobs:
        return []
    if options.executor == "ray":
        return _run_ray(jobs, task, options, counts, finished)
    return _run_local(jobs, task, options, counts, finished)


def _failure(err: BaseException) -> Outcome:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return "failed", f"{type(err).__name__}: {lines[-1] if lines else ''}"


def _run_local(
    jobs: list[GridJob],
    task: EpisodeTask,
    options: GridOptions,
    counts: GridProgress,
    finished: Callable[[int, Outcome], Outcome],
) -> list[Outcome]:
    numerics = options.numerics
    here = numerics is None or runs_with(numerics)
    results: dict[int, Outcome] = {}
    if (options.workers <= 1 or len(jobs) <= 1) and here:
        for index, job in enumerate(jobs):
            counts.running = 1
            try:
                outcome = task(job.config.model_dump(mode="json"), str(job.folder), options.threads)
            except Exception as err:  # a crashed episode: report it, keep the others
                outcome = _failure(err)
            results[index] = finished(index, outcome)
        return [results[i] for i in range(len(jobs))]
    # Inherited by the workers before torch starts there.
    os.environ.update({"OMP_NUM_THREADS": str(options.threads)})
    with (
        started_with(numerics) if numerics is not None else nullcontext(),
        ProcessPoolExecutor(options.workers, mp_context=get_context("spawn")) as pool,
    ):
        # Each distinct base student is pretrained (and cached) once, the distinct ones in
        # parallel, before the episodes race to build the same one.
        bases = _distinct([job.config for job in jobs]).values()
        warming = [
            pool.submit(warm_base, c.model_dump(mode="json"), options.threads) for c in bases
        ]
        for warmed in warming:
            # A base that cannot be built fails its episodes too, and they report why.
            warmed.exception()
        futures = {
            pool.submit(
                task, job.config.model_dump(mode="json"), str(job.folder), options.threads
            ): index
            for index, job in enumerate(jobs)
        }
        counts.running = min(len(futures), options.workers)
        waiting = len(futures)
        for future in as_completed(futures):
            waiting -= 1
            try:
                outcome = future.result()
            except Exception as err:  # a crashed worker: report it, keep the others
                outcome = _failure(err)
            results[futures[future]] = finished(futures[future], outcome)
            counts.running = min(waiting, options.workers)
    return [results[i] for i in range(len(jobs))]


# --------------------------------------------------------------------------- Ray


@contextmanager
def _cache_at(folder: str) -> Iterator[None]:
    saved = os.environ.get("DATAENVGYM_CACHE")
    os.environ["DATAENVGYM_CACHE"] = folder
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATAENVGYM_CACHE", None)
        else:
            os.environ["DATAENVGYM_CACHE"] = saved


def pretrain_base(config: dict[str, Any], threads: int) -> bytes:
    """A Ray task: pretrain one base student in a fresh cache and return it packed (empty
    when it cannot be built: its episodes then build it themselves and say why not)."""
    with tempfile.TemporaryDirectory(prefix="dataenvgym-base-") as tmp, _cache_at(tmp):
        try:
            warm_base(config, threads)
        except Exception:
            return b""
        students = Path(tmp) / "students"
        return pack(students) if students.is_dir() else b""


def remote_episode(
    task: EpisodeTask,
    config: dict[str, Any],
    name: str,
    threads: int,
    folder: bytes | None,
    base: bytes,
) -> tuple[Outcome, bytes | None]:
    """A Ray task: one episode in a private folder of the worker's machine.

    Args:
        task: What runs the episode.
        config: Its settings.
        name: Its run folder's name.
        threads: Torch threads.
        folder: The run folder as it is on the user's machine (None: there is none).
        base: Its base student, packed (:func:`pretrain_base`).

    Returns:
        The outcome, and the folder ``name`` sits in, packed (None if empty).
    """
    from dataenvgym.cache import cache_dir
    from dataenvgym.grid.transfer import unpack

    if base:
        add_missing(base, cache_dir() / "students")
    with tempfile.TemporaryDirectory(prefix="dataenvgym-episode-") as tmp:
        root = Path(tmp)
        if folder is not None:
            unpack(folder, root / name)
        try:
            outcome = task(config, str(root / name), threads)
        except Exception as err:  # the folder may still hold finished iterations
            outcome = _failure(err)
        back = pack(root) if any(root.iterdir()) else None
    return outcome, back


def worker_environment(options: GridOptions) -> dict[str, str]:
    """What Ray workers start with: one torch (OpenMP) thread count, and the numerics."""
    env = {"OMP_NUM_THREADS": str(options.threads)}
    if options.numerics is not None:
        env |= numerics_environment(options.numerics)
    else:  # as this process computes
        env |= {k: os.environ[k] for k in PORTABLE_ENVIRONMENT if k in os.environ}
    return env


def _slots(ray: Any, options: GridOptions) -> int:
    """How many episodes the cluster runs at once (for the progress only)."""
    resources = ray.cluster_resources()
    slots = resources.get("CPU", 1) / max(options.ray_cpus, 1e-9)
    if options.gpus_per_episode > 0:
        slots = min(slots, resources.get("GPU", 0) / options.gpus_per_episode)
    return max(1, math.floor(slots))


def _run_ray(
    jobs: list[GridJob],
    task: EpisodeTask,
    options: GridOptions,
    counts: GridProgress,
    finished: Callable[[int, Outcome], Outcome],
) -> list[Outcome]:
    resources = {"num_cpus": options.ray_cpus, "num_gpus": options.gpus_per_episode}
    num_cpus = options.num_cpus or max(1, options.workers * options.threads)
    # A private cluster's processes start from this one's environment: with the numerics'.
    numerics = options.numerics
    with (
        started_with(numerics)
        if numerics is not None and options.address is None
        else nullcontext(),
        ray_session(options.address, num_cpus, worker_environment(options)) as ray,
    ):
        pretrain = ray.remote(max_retries=0, **resources)(pretrain_base)
        episode = ray.remote(max_retries=0, **resources)(remote_episode)
        # Each distinct base student is pretrained once, in parallel; an episode waits
        # only for its own (Ray resolves the reference before the task starts).
        bases = {
            key: pretrain.remote(config.model_dump(mode="json"), options.threads)
            for key, config in _distinct([job.config for job in jobs]).items()
        }
        task_ref = ray.put(task)
        refs = {}
        for index, job in enumerate(jobs):
            folder = pack(job.folder) if job.folder.is_dir() else None
            ref = episode.remote(
                task_ref,
                job.config.model_dump(mode="json"),
                job.name,
                options.threads,
                folder,
                bases[base_key(job.config)],
            )
            refs[ref] = index
        slots = _slots(ray, options)
        counts.running = min(len(refs), slots)
        results: dict[int, Outcome] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            index = refs[done[0]]
            try:
                outcome, back = ray.get(done[0])
                if back is not None:
                    place(back, jobs[index].folder)
            except Exception as err:  # a crashed episode or worker: report it, go on
                outcome = _failure(err)
            results[index] = finished(index, outcome)
            counts.running = min(len(pending), slots)
    return [results[i] for i in range(len(jobs))]
