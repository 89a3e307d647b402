"""The paper's analyses over one or many runs, as plain tables.

* :func:`gain_by_difficulty`: test-accuracy gain of each subskill, binned by how hard it was
  for the base student (its initial test accuracy).
* :func:`gain_by_frequency`: the same gain, binned by how much of the generated data the
  subskill received (its share of the run's kept data).
* :func:`dynamics`: validation/test accuracy, reward and data per iteration, mean ± std
  over seeds.
* :func:`compare_teachers`: final test accuracy and gain per (env, domain, agent), mean ± std
  over seeds, and the paired difference to a baseline agent on the same seeds.

Runs are grouped by (env, domain, agent); seeds are what the mean and std run over.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataenvgym.report.run_data import RunData

#: Initial-accuracy bin edges for :func:`gain_by_difficulty` (the last bin includes 1.0).
DIFFICULTY_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Data-share bin edges for :func:`gain_by_frequency`: a subskill's share of the kept data.
FREQUENCY_EDGES = (0.0, 0.05, 0.10, 0.20, 1.0)


@dataclass
class Table:
    """A titled table of plain values (numbers are rounded only when shown)."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value; nan for none)."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return float("nan"), float("nan")
    arr = np.asarray(clean, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def group_label(group: tuple[str, ...]) -> str:
    return " / ".join(group)


def group_runs(runs: Sequence[RunData]) -> dict[tuple[str, str, str], list[RunData]]:
    """Runs by (env, domain, agent), groups and seeds in a stable order."""
    groups: dict[tuple[str, str, str], list[RunData]] = defaultdict(list)
    for run in runs:
        groups[run.group].append(run)
    return {
        key: sorted(members, key=lambda r: (r.seed if r.seed is not None else -1, r.name))
        for key, members in sorted(groups.items())
    }


@dataclass(frozen=True)
class UnitGain:
    """One subskill in one run: before, after, and the data it got."""

    run: str
    group: tuple[str, str, str]
    unit: str
    initial: float
    final: float
    data: int
    data_share: float

    @property
    def gain(self) -> float:
        return self.final - self.initial


def unit_gains(runs: Sequence[RunData]) -> list[UnitGain]:
    """Every (run, subskill) with its initial and final test accuracy and its data."""
    out = []
    for run in runs:
        before, after = run.test_per_unit("initial"), run.test_per_unit("final")
        data = run.total_data_per_subskill()
        total = sum(data.values())
        for unit in sorted(before.keys() & after.keys()):
            count = data.get(unit, 0)
            out.append(
                UnitGain(
                    run=run.name,
                    group=run.group,
                    unit=unit,
                    initial=before[unit],
                    final=after[unit],
                    data=count,
                    data_share=count / total if total else 0.0,
                )
            )
    return out


def _bin_label(lo: float, hi: float, last: bool, percent: bool) -> str:
    if percent:
        return f"{lo * 100:.0f}–{hi * 100:.0f}%"
    return f"[{lo:.1f}, {hi:.1f}" + ("]" if last else ")")


def _binned(
    gains: list[UnitGain], edges: Sequence[float], value: str, title: str, percent: bool, note: str
) -> Table:
    table = Table(
        title=title,
        columns=["group", "bin", "subskills", "mean initial", "mean gain", "std gain"],
        note=note,
    )
    by_group: dict[tuple[str, str, str], list[UnitGain]] = defaultdict(list)
    for gain in gains:
        by_group[gain.group].append(gain)
    for group, members in sorted(by_group.items()):
        for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
            last = i == len(edges) - 2
            inside = [
                g
                for g in members
                if lo <= getattr(g, value) < hi or (last and getattr(g, value) == hi)
            ]
            if not inside:
                continue
            mean_gain, std_gain = mean_std([g.gain for g in inside])
            table.rows.append(
                [
                    group_label(group),
                    _bin_label(lo, hi, last, percent),
                    len(inside),
                    mean_std([g.initial for g in inside])[0],
                    mean_gain,
                    std_gain,
                ]
            )
    return table


def gain_by_difficulty(runs: Sequence[RunData], edges: Sequence[float] = DIFFICULTY_EDGES) -> Table:
    """Test-accuracy gain per subskill, binned by the base student's test accuracy on it."""
    return _binned(
        unit_gains(runs),
        edges,
        "initial",
        "Gain by skill difficulty (bins of initial test accuracy)",
        percent=False,
        note="Each subskill of each run counts once; gain = final − initial test accuracy.",
    )


def gain_by_frequency(runs: Sequence[RunData], edges: Sequence[float] = FREQUENCY_EDGES) -> Table:
    """Test-accuracy gain per subskill, binned by its share of the run's kept training data."""
    return _binned(
        unit_gains(runs),
        edges,
        "data_share",
        "Gain by skill frequency (share of the generated data)",
        percent=True,
        note="A subskill's frequency is its share of all kept training data of its run.",
    )


def dynamics(runs: Sequence[RunData]) -> Table:
    """Per group and iteration: val/test accuracy, reward and kept data, mean ± std over seeds."""
    table = Table(
        title="Per-iteration dynamics (mean ± std over seeds)",
        columns=[
            "group",
            "iteration",
            "seeds",
            "val acc",
            "val std",
            "test acc",
            "test std",
            "reward",
            "reward std",
            "new data",
        ],
    )
    for group, members in group_runs(runs).items():
        depth = max(len(r.iterations) for r in members)
        for step in range(depth):
            present = [r for r in members if len(r.iterations) > step]
            val = mean_std([r.val_accuracy()[step] for r in present])
            test = mean_std([t for r in present if (t := r.test_accuracy()[step]) is not None])
            rewards = [r.rewards()[step - 1] for r in present] if step else []
            reward = mean_std(rewards) if step else (float("nan"), float("nan"))
            new = mean_std(
                [float(r.iterations[step].info.get("num_new_data", 0)) for r in present]
            )[0]
            table.rows.append([group_label(group), step, len(present), *val, *test, *reward, new])
    return table


def compare_teachers(runs: Sequence[RunData], baseline: str = "no-state") -> Table:
    """Final test accuracy and gain per group; paired difference to ``baseline`` by seed.

    The paired difference matches each run with the baseline agent's run of the same env,
    domain and seed; it is empty when there is no such run.
    """
    table = Table(
        title="Teachers compared (final test accuracy, mean ± std over seeds)",
        columns=[
            "group",
            "seeds",
            "final test",
            "final std",
            "gain",
            "gain std",
            f"vs {baseline}",
            f"vs {baseline} std",
        ],
        note=f"'vs {baseline}': paired over seeds, same env and domain; gains in accuracy.",
    )
    finals = {
        (r.env, r.domain, r.agent, r.seed): float(r.summary["final"]["test_accuracy"]) for r in runs
    }
    for group, members in group_runs(runs).items():
        final = mean_std([float(r.summary["final"]["test_accuracy"]) for r in members])
        gain = mean_std(
            [
                float(r.summary["final"]["test_accuracy"])
                - float(r.summary["initial"]["test_accuracy"])
                for r in members
            ]
        )
        paired = [
            finals[(r.env, r.domain, r.agent, r.seed)] - finals[key]
            for r in members
            if r.agent != baseline and (key := (r.env, r.domain, baseline, r.seed)) in finals
        ]
        versus = mean_std(paired) if paired else (float("nan"), float("nan"))
        table.rows.append([group_label(group), len(members), *final, *gain, *versus])
    return table


def per_subskill_gain(runs: Sequence[RunData]) -> Table:
    """Mean test-accuracy gain of every subskill per group (the teachers' per-skill profile)."""
    gains = unit_gains(runs)
    groups = sorted({g.group for g in gains})
    units = sorted({g.unit for g in gains})
    table = Table(
        title="Gain per subskill (mean over seeds)",
        columns=["subskill", *(group_label(g) for g in groups)],
    )
    for unit in units:
        row: list[Any] = [unit]
        for group in groups:
            row.append(mean_std([g.gain for g in gains if g.group == group and g.unit == unit])[0])
        table.rows.append(row)
    return table


def _usage_cells(run: RunData) -> dict[tuple[str, str], dict[str, Any]]:
    """(iteration, role) -> counters, from the run's usage file or else its iterations'."""
    if run.usage is not None:
        tracker = run.usage.get("usage", run.usage)  # the teacher's file, or a bare tracker
        return {
            (str(it), role): stats
            for it, roles in (tracker.get("by_iteration_role") or {}).items()
            for role, stats in roles.items()
        }
    return {
        (str(it), role): stats
        for it, payload in run.iteration_usage.items()
        for role, stats in (payload.get("usage_by_role") or {}).items()
    }


def llm_usage(run: RunData) -> Table | None:
    """LLM calls and tokens per iteration and role (``None`` when the run used no LLM)."""
    counters = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "failures")
    cells = {
        key: {c: int(stats.get(c) or 0) for c in counters}
        for key, stats in _usage_cells(run).items()
    }
    if not cells:
        return None

    def order(key: tuple[str, str]) -> tuple[int, str, str]:
        it, role = key
        return (int(it) if it.isdigit() else -1, it, role)

    teacher = (run.usage or {}).get("teacher")
    table = Table(
        title="LLM calls and tokens",
        columns=["iteration", "role", *counters],
        note=f"Teacher model: {teacher}." if teacher else "",
    )
    for key in sorted(cells, key=order):
        table.rows.append([key[0], key[1], *(cells[key][c] for c in counters)])
    table.rows.append(["all", "all", *(sum(cell[c] for cell in cells.values()) for c in counters)])
    return table


def errors_before_after(run: RunData, limit: int = 8) -> Table:
    """Validation items the base student got wrong, with the last student's answers.

    Fixed ones come first (wrong before, right after), then ones still wrong, spread over
    subskills so one skill does not fill the table.
    """
    table = Table(
        title="Errors before and after (validation)",
        columns=["subskill", "prompt", "gold", "before", "after", "fixed"],
    )
    if len(run.iterations) < 2:
        return table
    before = {r["instance"]["id"]: r for r in run.iterations[0].val_results()}
    after = {r["instance"]["id"]: r for r in run.iterations[-1].val_results()}
    wrong = [(before[k], after[k]) for k in before if k in after and not before[k]["correct"]]
    fixed = [pair for pair in wrong if pair[1]["correct"]]
    still = [pair for pair in wrong if not pair[1]["correct"]]
    chosen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for pool, quota in ((fixed, (limit + 1) // 2), (still, limit)):
        seen_units: set[str] = set()
        for pair in pool:  # one per subskill first, then fill
            unit = f"{pair[0]['instance'].get('skill')}/{pair[0]['instance'].get('subskill')}"
            if unit not in seen_units and len(chosen) < limit and quota > 0:
                seen_units.add(unit)
                chosen.append(pair)
                quota -= 1
    for b, a in chosen:
        inst = b["instance"]
        table.rows.append(
            [
                f"{inst.get('skill')}/{inst.get('subskill')}",
                inst["prompt"],
                inst["answer"],
                b["prediction"],
                a["prediction"],
                bool(a["correct"]),
            ]
        )
    return table
