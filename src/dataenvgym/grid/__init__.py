"""The grid runner: many episodes, each in its own run folder, run here or on a Ray cluster.

Sweeps (:mod:`dataenvgym.sweep`) and leaderboard boards (:mod:`dataenvgym.leaderboard`) are
both a grid of episodes that share base students, resume finished runs and collect
summaries; both run through :func:`run_grid`. What each does with one episode (read back a
finished run, resume an interrupted one, set aside a stale one) is its own
:data:`EpisodeTask`; the grid decides where and how many at a time.
"""

from dataenvgym.grid.cluster import ray_session
from dataenvgym.grid.jobs import EpisodeTask, GridJob, GridOptions, Outcome, base_key
from dataenvgym.grid.progress import GridProgress
from dataenvgym.grid.runner import run_grid, warm_base

__all__ = [
    "EpisodeTask",
    "GridJob",
    "GridOptions",
    "GridProgress",
    "Outcome",
    "base_key",
    "ray_session",
    "run_grid",
    "warm_base",
]
