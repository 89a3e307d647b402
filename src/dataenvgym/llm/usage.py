"""Counting of LLM calls, tokens, retries and failures per role and per iteration.

The runner writes :meth:`UsageTracker.to_dict` into the run folder, so a reader sees what
each role (policy, engine, skill discovery, ...) cost in every iteration, how many answers
came from the cache, and how many calls or outputs were lost — nothing is dropped silently.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

#: Iteration tag of calls made outside any iteration (e.g. skill discovery before the loop).
UNTAGGED = "untagged"


@dataclass
class UsageStats:
    """Counters of one (role, iteration) cell, or a sum of cells.

    Attributes:
        calls: Completions answered by the server (each one billed).
        cache_hits: Completions answered by the disk cache (free).
        prompt_tokens: Prompt tokens of server-answered calls.
        completion_tokens: Completion tokens of server-answered calls.
        retries: Requests repeated after a transient fault.
        failed_calls: Calls given up (retries exhausted or request rejected).
        reasks: Follow-up requests carrying a parse/validation error back to the model.
        invalid_outputs: Structured calls that never produced a valid object; skipped.
    """

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failed_calls: int = 0
    reasks: int = 0
    invalid_outputs: int = 0

    @property
    def failures(self) -> int:
        """Everything lost: failed calls plus invalid structured outputs."""
        return self.failed_calls + self.invalid_outputs

    def add(self, other: UsageStats) -> None:
        """Add another cell's counters into this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def cost_usd(
        self, price_in_per_1m: float | None, price_out_per_1m: float | None
    ) -> float | None:
        """Cost of the server-answered tokens, or None when no price is known."""
        if price_in_per_1m is None and price_out_per_1m is None:
            return None
        return (
            self.prompt_tokens * (price_in_per_1m or 0.0)
            + self.completion_tokens * (price_out_per_1m or 0.0)
        ) / 1_000_000

    def to_dict(
        self, price_in_per_1m: float | None = None, price_out_per_1m: float | None = None
    ) -> dict[str, Any]:
        """The counters, the failure total and (when priced) the cost, as plain JSON values."""
        out: dict[str, Any] = asdict(self)
        out["failures"] = self.failures
        out["cost_usd"] = self.cost_usd(price_in_per_1m, price_out_per_1m)
        return out


_COUNTERS = frozenset(f.name for f in fields(UsageStats))


class UsageTracker:
    """Thread-safe counters keyed by (iteration, role).

    Args:
        price_input_per_1m: USD per 1M prompt tokens, for costs in reports.
        price_output_per_1m: USD per 1M completion tokens.
    """

    def __init__(
        self, price_input_per_1m: float | None = None, price_output_per_1m: float | None = None
    ) -> None:
        self.price_input_per_1m = price_input_per_1m
        self.price_output_per_1m = price_output_per_1m
        self._lock = threading.Lock()
        self._cells: dict[tuple[str, str], UsageStats] = {}

    def record(self, role: str, iteration: int | str | None = None, **deltas: int) -> None:
        """Add to the counters of one role in one iteration.

        Args:
            role: Any string; conventionally "policy", "engine", "skill_discovery".
            iteration: Iteration tag; None files the call under ``"untagged"``.
            **deltas: Counter increments, named as the fields of :class:`UsageStats`.

        Raises:
            ValueError: On a counter name that does not exist (a typo would lose counts).
        """
        unknown = set(deltas) - _COUNTERS
        if unknown:
            raise ValueError(f"unknown usage counters: {sorted(unknown)}")
        key = (UNTAGGED if iteration is None else str(iteration), role)
        with self._lock:
            cell = self._cells.setdefault(key, UsageStats())
            for name, delta in deltas.items():
                setattr(cell, name, getattr(cell, name) + delta)

    def total(self, *, role: str | None = None, iteration: int | str | None = None) -> UsageStats:
        """Sum of the cells matching ``role`` and ``iteration`` (None matches all)."""
        it = None if iteration is None else str(iteration)
        out = UsageStats()
        with self._lock:
            for (cell_it, cell_role), cell in self._cells.items():
                if (role is None or role == cell_role) and (it is None or it == cell_it):
                    out.add(cell)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Totals, per role, per iteration and per iteration × role, with costs when priced."""
        prices = (self.price_input_per_1m, self.price_output_per_1m)
        with self._lock:
            cells = {k: UsageStats(**asdict(v)) for k, v in self._cells.items()}
        total = UsageStats()
        by_role: dict[str, UsageStats] = {}
        by_iteration: dict[str, UsageStats] = {}
        by_iteration_role: dict[str, dict[str, Any]] = {}
        for (it, role), cell in sorted(cells.items()):
            total.add(cell)
            by_role.setdefault(role, UsageStats()).add(cell)
            by_iteration.setdefault(it, UsageStats()).add(cell)
            by_iteration_role.setdefault(it, {})[role] = cell.to_dict(*prices)
        return {
            "prices_per_1m": {"input": prices[0], "output": prices[1]},
            "total": total.to_dict(*prices),
            "by_role": {k: v.to_dict(*prices) for k, v in by_role.items()},
            "by_iteration": {k: v.to_dict(*prices) for k, v in by_iteration.items()},
            "by_iteration_role": by_iteration_role,
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as indented JSON (parents created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path
