"""Matplotlib figures of runs: each function returns a ``Figure``; :func:`save_png` writes it.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no GUI backend
and no global state is involved (Agg renders them), and reports can be made from threads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from dataenvgym.report.analysis import Table, group_label, group_runs, mean_std, unit_gains
from dataenvgym.report.run_data import RunData

_DPI = 96


def save_png(fig: Figure, path: Path) -> bytes:
    """Write ``fig`` as PNG to ``path`` and return the bytes (for embedding)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI, bbox_inches="tight")
    return path.read_bytes()


def _short(unit: str) -> str:
    return unit.replace("/", " / ")


def accuracy_curve(run: RunData) -> Figure:
    """Validation and test accuracy per iteration (0 = the base student)."""
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.subplots()
    steps = run.steps
    ax.plot(steps, run.val_accuracy(), marker="o", label="validation")
    test = run.test_accuracy()
    measured = [(s, t) for s, t in zip(steps, test, strict=True) if t is not None]
    if measured:
        ax.plot(*zip(*measured, strict=True), marker="s", label="test")
    ax.set_xlabel("iteration")
    ax.set_ylabel("accuracy")
    ax.set_xticks(steps)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Accuracy per iteration")
    return fig


def accuracy_heatmap(run: RunData, split: str = "test", level: str = "subskill") -> Figure:
    """Per-skill (or per-subskill) accuracy over iterations, annotated with the values."""
    units = run.units(level)
    matrix = np.asarray(run.accuracy_matrix(split, level), dtype=float)
    height = 0.9 + 0.32 * max(len(units), 1)
    fig = Figure(figsize=(1.2 + 0.75 * max(len(run.steps), 1) + 1.8, height))
    ax = fig.subplots()
    if matrix.size:
        image = ax.imshow(
            np.ma.masked_invalid(matrix), vmin=0, vmax=1, cmap="viridis", aspect="auto"
        )
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        for (row, col), value in np.ndenumerate(matrix):
            if not math.isnan(value):
                ax.text(
                    col,
                    row,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.6 else "black",
                )
    ax.set_xticks(range(len(run.steps)), [str(s) for s in run.steps])
    ax.set_yticks(range(len(units)), [_short(u) for u in units], fontsize=8)
    ax.set_xlabel("iteration")
    name = "Test" if split == "test" else "Validation"
    ax.set_title(f"{name} accuracy per {level}")
    return fig


def data_per_subskill(run: RunData) -> Figure:
    """Kept training data per subskill, stacked per iteration."""
    per_iteration = run.data_per_subskill()
    units = sorted({u for counts in per_iteration for u in counts})
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.subplots()
    steps = list(range(1, len(per_iteration) + 1))
    bottom = np.zeros(len(steps))
    palette = colormaps["tab20"]
    colours = [palette(i % palette.N) for i in range(len(units))]
    for unit, colour in zip(units, colours, strict=True):
        heights = np.asarray([counts.get(unit, 0) for counts in per_iteration], dtype=float)
        ax.bar(steps, heights, bottom=bottom, label=_short(unit), color=colour)
        bottom += heights
    ax.set_xticks(steps)
    ax.set_xlabel("iteration")
    ax.set_ylabel("kept training data")
    ax.set_title("Data generated per subskill")
    if units:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def reward_bars(run: RunData) -> Figure:
    """Reward (Δ validation accuracy) per iteration."""
    rewards = run.rewards()
    fig = Figure(figsize=(4.5, 2.8))
    ax = fig.subplots()
    steps = list(range(1, len(rewards) + 1))
    ax.bar(steps, rewards, color=["tab:green" if r >= 0 else "tab:red" for r in rewards])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(steps)
    ax.set_xlabel("iteration")
    ax.set_ylabel("reward (Δ val accuracy)")
    ax.set_title(f"Reward (total {sum(rewards):+.3f})")
    return fig


def usage_bars(table: Table) -> Figure:
    """Prompt and completion tokens per iteration (summed over roles) from a usage table."""
    per_iteration: dict[str, list[float]] = {}
    for row in table.as_dicts():
        if row["iteration"] == "all":
            continue
        cell = per_iteration.setdefault(str(row["iteration"]), [0.0, 0.0])
        cell[0] += row["prompt_tokens"]
        cell[1] += row["completion_tokens"]
    labels = list(per_iteration)
    prompt = [per_iteration[k][0] for k in labels]
    completion = [per_iteration[k][1] for k in labels]
    fig = Figure(figsize=(5, 2.8))
    ax = fig.subplots()
    ax.bar(labels, prompt, label="prompt tokens")
    ax.bar(labels, completion, bottom=prompt, label="completion tokens")
    ax.set_xlabel("iteration")
    ax.set_ylabel("tokens")
    ax.set_title("LLM tokens per iteration")
    ax.legend(fontsize=8)
    return fig


def compare_curves(runs: Sequence[RunData], split: str = "test") -> Figure:
    """Mean ± std accuracy per iteration of every (env, domain, agent) group."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    for group, members in group_runs(runs).items():
        depth = max(len(r.iterations) for r in members)
        means, stds = [], []
        for step in range(depth):
            values = [
                (r.test_accuracy()[step] if split == "test" else r.val_accuracy()[step])
                for r in members
                if len(r.iterations) > step
            ]
            mean, std = mean_std([v for v in values if v is not None])
            means.append(mean)
            stds.append(std)
        steps = np.arange(depth)
        mean_arr, std_arr = np.asarray(means), np.asarray(stds)
        ax.plot(steps, mean_arr, marker="o", label=f"{group_label(group)} (n={len(members)})")
        ax.fill_between(steps, mean_arr - std_arr, mean_arr + std_arr, alpha=0.2)
    depth = max((len(r.iterations) for r in runs), default=0)
    ax.set_xticks(range(depth))
    ax.set_xlabel("iteration")
    name = "test" if split == "test" else "validation"
    ax.set_ylabel(f"{name} accuracy")
    ax.set_title(f"{name.capitalize()} accuracy, mean ± std over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def compare_final(runs: Sequence[RunData]) -> Figure:
    """Initial and final test accuracy per group, mean ± std over seeds."""
    groups = group_runs(runs)
    labels = [group_label(g) for g in groups]
    initial = [
        mean_std([r.summary["initial"]["test_accuracy"] for r in m]) for m in groups.values()
    ]
    final = [mean_std([r.summary["final"]["test_accuracy"] for r in m]) for m in groups.values()]
    fig = Figure(figsize=(1.5 + 1.3 * len(labels), 3.6))
    ax = fig.subplots()
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [m for m, _ in initial], 0.4, yerr=[s for _, s in initial], label="initial")
    ax.bar(x + 0.2, [m for m, _ in final], 0.4, yerr=[s for _, s in final], label="final")
    ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy before and after, mean ± std over seeds")
    ax.legend(fontsize=8)
    return fig


def binned_gain(table: Table) -> Figure:
    """Grouped bars of mean gain per bin, one colour per group (from a binned table)."""
    rows = table.as_dicts()
    groups = list(dict.fromkeys(r["group"] for r in rows))
    bins = list(dict.fromkeys(r["bin"] for r in rows))
    width = 0.8 / max(len(groups), 1)
    fig = Figure(figsize=(1.5 + 1.1 * len(bins), 3.4))
    ax = fig.subplots()
    for i, group in enumerate(groups):
        cells = {r["bin"]: r for r in rows if r["group"] == group}
        xs = [b + i * width - 0.4 + width / 2 for b in range(len(bins))]
        ax.bar(
            xs,
            [cells[b]["mean gain"] if b in cells else 0.0 for b in bins],
            width,
            yerr=[cells[b]["std gain"] if b in cells else 0.0 for b in bins],
            label=group,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(bins)), bins, fontsize=8)
    ax.set_ylabel("test accuracy gain")
    ax.set_title(table.title, fontsize=10)
    ax.legend(fontsize=7)
    return fig


def gain_vs_data(runs: Sequence[RunData]) -> Figure:
    """Each subskill of each run: its share of the data against its test-accuracy gain."""
    gains = unit_gains(runs)
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    for group in sorted({g.group for g in gains}):
        members = [g for g in gains if g.group == group]
        ax.scatter(
            [g.data_share for g in members],
            [g.gain for g in members],
            s=18,
            alpha=0.7,
            label=group_label(group),
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("share of the generated data")
    ax.set_ylabel("test accuracy gain")
    ax.set_title("Gain against data per subskill")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
