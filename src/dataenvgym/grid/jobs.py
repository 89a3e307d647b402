"""What the grid runs: jobs (one episode each), how to run them, and what comes back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dataenvgym.config import RunConfig
from dataenvgym.numerics import Numerics

Executor = Literal["local", "ray"]

#: What became of one episode: ``(status, summary)`` with status ``ran``, ``resumed`` or
#: ``reused``, or ``("failed", message)``.
Outcome = tuple[str, Any]

#: Runs (or resumes, or reads back) one episode: ``task(config, folder, threads)`` with the
#: run config as JSON data, the run folder and the torch threads. It must be a module-level
#: function (or a ``functools.partial`` of one): it travels to worker processes and Ray
#: workers by pickle.
EpisodeTask = Callable[[dict[str, Any], str, int], Outcome]


@dataclass(frozen=True)
class GridJob:
    """One episode of a grid.

    Attributes:
        config: The episode's settings.
        folder: Its run folder, where the user asked for it (on this machine).
        settings: What tells it apart in the grid (shown with a failure), e.g.
            ``{"env": "skill-list", "seed": 1}``.
    """

    config: RunConfig
    folder: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.folder.name

    def describe(self) -> str:
        """The job's settings on one line (its folder name where it has none)."""
        if not self.settings:
            return self.name
        return " ".join(f"{key}={value}" for key, value in self.settings.items())


@dataclass(frozen=True)
class GridOptions:
    """Where and how many episodes at a time.

    Attributes:
        executor: ``local`` (this machine: in this process, or ``workers`` processes) or
            ``ray`` (Ray tasks on a cluster).
        address: The Ray cluster to join (``auto``, ``HOST:PORT``, ``ray://HOST:10001``);
            None starts a private one on this machine, on loopback.
        num_cpus: CPUs of that private Ray cluster (default: ``workers`` × ``threads``).
        workers: Episodes at a time with the local executor.
        threads: Torch threads per episode.
        cpus_per_episode: CPUs Ray reserves per episode (default: ``threads``).
        gpus_per_episode: GPUs Ray reserves per episode (fractions allowed).
        numerics: Floating point every episode computes with (see
            :mod:`dataenvgym.numerics`); None: as this process does.
    """

    executor: Executor = "local"
    address: str | None = None
    num_cpus: int | None = None
    workers: int = 1
    threads: int = 1
    cpus_per_episode: float | None = None
    gpus_per_episode: float = 0.0
    numerics: Numerics | None = None

    @property
    def ray_cpus(self) -> float:
        return self.cpus_per_episode if self.cpus_per_episode is not None else self.threads


#: The settings that decide an episode's base student.
BASE_FIELDS = ("domain", "domain_config", "student", "student_config", "pretrain", "seed")


def base_key(config: RunConfig) -> str:
    """Equal for two episodes that start from the same base student."""
    return json.dumps(config.model_dump(mode="json", include=set(BASE_FIELDS)), sort_keys=True)


def distinct_base_configs(configs: list[RunConfig]) -> dict[str, RunConfig]:
    """One config per distinct base student, by :func:`base_key`, first seen first."""
    out: dict[str, RunConfig] = {}
    for config in configs:
        out.setdefault(base_key(config), config)
    return out
