"""Progress over a whole grid: done, running, failed, elapsed and an estimate of the rest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@dataclass
class GridProgress:
    """Counts of a grid's episodes as they finish.

    Attributes:
        total: Episodes in the grid, read back ones included.
        done: Finished (run now, resumed or read back).
        failed: Failed (each reported with its settings and error).
        running: Started and not finished, at most as many as run at once.
        reused: Of ``done``, read back from finished run folders (they cost no time, so
            the estimate leaves them out).
    """

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    reused: int = 0
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def estimate(self) -> float | None:
        """Seconds until the grid is finished, at the rate episodes finished so far (with
        whatever parallelism there was); None before the first one."""
        finished_now = self.done + self.failed - self.reused
        if finished_now <= 0:
            return None
        remaining = self.total - self.done - self.failed
        return remaining * self.elapsed() / finished_now

    def line(self) -> str:
        """E.g. ``7/16 done, 2 running, 1 failed; 3m12s elapsed, about 5m40s left``."""
        text = f"{self.done}/{self.total} done, {self.running} running, {self.failed} failed"
        text += f"; {_clock(self.elapsed())} elapsed"
        left = self.estimate()
        if left is not None and self.done + self.failed < self.total:
            text += f", about {_clock(left)} left"
        return text
