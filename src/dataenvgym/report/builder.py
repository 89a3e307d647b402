"""``report.html`` for one or many runs: comparison, the paper's analyses, then each run.

Figures are written as PNG files under ``OUT/figures/`` and embedded in the page as base64,
so the HTML alone is enough to read the report.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from dataenvgym.report import analysis, figures
from dataenvgym.report.html import (
    figure_html,
    figures_block,
    fmt,
    page,
    per_skill_table,
    table_html,
    tree_html,
)
from dataenvgym.report.run_data import RunData

FIGURES_DIR = "figures"


class _FigureWriter:
    """Saves figures under one folder with unique, readable names; returns their HTML."""

    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / FIGURES_DIR
        self.names: list[str] = []

    def __call__(self, fig: Figure, name: str, caption: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        path = self.folder / f"{slug}.png"
        png = figures.save_png(fig, path)
        self.names.append(path.name)
        return figure_html(png, caption, f"{FIGURES_DIR}/{path.name}")


def _tree_nodes(run: RunData, index: int) -> tuple[dict[str, dict[str, Any]], bool]:
    """The skill tree after iteration ``index``: the env's forest where the run recorded it,
    otherwise the gold taxonomy read off the per-subskill scores and data counts."""
    it = run.iterations[index]
    info = it.info
    data = info.get("data_per_subskill", {})
    forest = it.forest
    if forest is not None:
        nodes = {}
        for skill, node in forest.get("skills", {}).items():
            nodes[skill] = {
                "accuracy": node.get("accuracy"),
                "subskills": {
                    name: {**sub, "data": data.get(f"{skill}/{name}", 0)}
                    for name, sub in node.get("subskills", {}).items()
                },
            }
        return nodes, True
    nodes = {
        skill: {"accuracy": acc, "subskills": {}}
        for skill, acc in sorted(info.get("per_skill", {}).items())
    }
    for key, acc in sorted(info.get("per_subskill", {}).items()):
        skill, _, name = key.partition("/")
        nodes.setdefault(skill, {"accuracy": None, "subskills": {}})["subskills"][name] = {
            "val_accuracy": acc,
            "data": data.get(key, 0),
        }
    return nodes, False


def _meta(run: RunData) -> str:
    s = run.summary
    teacher = run.teacher
    rows = [
        ("run folder", str(run.root)),
        ("environment", run.env),
        ("domain", run.domain),
        ("agent", run.agent + (" (privileged)" if s.get("privileged") else "")),
        ("policy / engine", f"{teacher['policy']} / {teacher['engine']}"),
        ("seed", fmt(run.seed)),
        ("student", str(run.config.get("student", "?"))),
        ("iterations × budget", f"{len(run.iterations) - 1} × {run.config.get('budget', '?')}"),
        ("kept training data", fmt(s.get("total_training_data"))),
        ("wall time", f"{fmt(s.get('wall_seconds'), 1)} s"),
    ]
    health = s.get("teacher_health")
    if health:  # LLM teachers: how much they delivered (docs/llm-teachers.md)
        degraded = health.get("degraded_iterations") or []
        rows.append(
            (
                "teacher health",
                f"delivered {fmt(health.get('delivered_share'))} of the budget, "
                f"{fmt(health.get('policy_fallback_share'))} of policy decisions fell back"
                + (f"; DEGRADED in iteration(s) {degraded}" if degraded else ""),
            )
        )
    cells = "".join(
        f"<tr><th class='text'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows
    )
    return f'<table class="meta">{cells}</table>'


def _headline(run: RunData) -> str:
    s = run.summary
    before, after = s["initial"]["test_accuracy"], s["final"]["test_accuracy"]
    return (
        f'<p class="headline">{escape(run.env)} / {escape(run.domain)} / '
        f"{escape(run.agent)}, seed {fmt(run.seed)}: test accuracy <b>{before:.3f} → "
        f"{after:.3f}</b> ({(after - before) * 100:+.1f} points) with "
        f"{fmt(s.get('total_training_data'))} generated training data over "
        f"{len(run.iterations) - 1} iterations; total reward {sum(run.rewards()):+.3f}.</p>"
    )


def _run_section(run: RunData, index: int, save: _FigureWriter, open_details: bool) -> str:
    slug = f"run{index}"
    s = run.summary
    parts = [
        f'<section class="run" id="{slug}"><h2>{escape(run.name)}</h2>',
        _headline(run),
        '<div class="figures"><div><h3>Test accuracy per skill, before → after</h3>',
        per_skill_table(s, f"per-skill-{slug}"),
        "</div><div><h3>Run</h3>",
        _meta(run),
        "</div></div>",
        "<h3>Accuracy, reward and data</h3>",
    ]
    figs = [
        save(figures.accuracy_curve(run), f"{slug}-accuracy", "Validation and test accuracy"),
        save(figures.reward_bars(run), f"{slug}-reward", "Reward per iteration"),
        save(
            figures.accuracy_heatmap(run, "test", "skill"),
            f"{slug}-heatmap-test-skill",
            "Test accuracy per skill over iterations",
        ),
        save(
            figures.accuracy_heatmap(run, "test", "subskill"),
            f"{slug}-heatmap-test-subskill",
            "Test accuracy per subskill over iterations",
        ),
        save(
            figures.accuracy_heatmap(run, "val", "subskill"),
            f"{slug}-heatmap-val-subskill",
            "Validation accuracy per subskill over iterations",
        ),
        save(figures.data_per_subskill(run), f"{slug}-data", "Kept training data per subskill"),
    ]
    parts.append(figures_block(figs))

    rows = [
        [
            it.index,
            it.info.get("num_new_data"),
            (it.info.get("dropped") or {}).get("total", 0),
            it.info.get("val_accuracy"),
            (it.test or {}).get("accuracy"),
            it.report.get("reward") if it.index else None,
            ((it.info.get("train") or {}).get("seconds")),
        ]
        for it in run.iterations
    ]
    parts.append(
        table_html(
            analysis.Table(
                "Per iteration",
                ["iteration", "kept data", "dropped", "val acc", "test acc", "reward", "train s"],
                rows,
            )
        )
    )

    parts.append("<h3>Skill tree per iteration (allocations and accuracies)</h3>")
    for it in run.iterations:
        nodes, has_forest = _tree_nodes(run, it.index)
        notes = (it.plan or {}).get("notes", "")
        last = it.index == run.iterations[-1].index
        label = "base student" if it.index == 0 else f"after iteration {it.index}"
        plan_note = f'<p class="note">policy: {escape(notes)}</p>' if notes else ""
        parts.append(
            f"<details{' open' if open_details and last else ''}><summary>{label}</summary>"
            f"{plan_note}{tree_html(nodes, has_forest)}</details>"
        )

    usage = analysis.llm_usage(run)
    if usage is None:
        parts.append(
            '<h3>LLM calls and tokens</h3><p class="note">No LLM usage recorded in this run '
            "(procedural teacher, or no usage file).</p>"
        )
    else:
        parts.append(table_html(usage))
        parts.append(figures_block([save(figures.usage_bars(usage), f"{slug}-llm", "LLM tokens")]))
    parts.append(table_html(analysis.errors_before_after(run)))
    parts.append("</section>")
    return "".join(parts)


def _analyses(runs: Sequence[RunData], save: _FigureWriter) -> str:
    difficulty = analysis.gain_by_difficulty(runs)
    frequency = analysis.gain_by_frequency(runs)
    parts = [
        '<section id="analyses"><h2>Analyses</h2>',
        table_html(difficulty, table_id="gain-by-difficulty"),
        table_html(frequency, table_id="gain-by-frequency"),
        figures_block(
            [
                save(figures.binned_gain(difficulty), "gain-by-difficulty", difficulty.title),
                save(figures.binned_gain(frequency), "gain-by-frequency", frequency.title),
                save(figures.gain_vs_data(runs), "gain-vs-data", "Gain against data share"),
            ]
        ),
        table_html(analysis.dynamics(runs), table_id="dynamics"),
        table_html(analysis.per_subskill_gain(runs), table_id="per-subskill-gain"),
        "</section>",
    ]
    return "".join(parts)


def _comparison(runs: Sequence[RunData], save: _FigureWriter) -> str:
    return "".join(
        [
            '<section id="comparison"><h2>Comparison of runs</h2>',
            table_html(analysis.compare_teachers(runs), table_id="teachers"),
            figures_block(
                [
                    save(figures.compare_final(runs), "compare-final", "Final test accuracy"),
                    save(figures.compare_curves(runs, "test"), "compare-test", "Test curves"),
                    save(figures.compare_curves(runs, "val"), "compare-val", "Validation curves"),
                ]
            ),
            "</section>",
        ]
    )


def build_report(runs: Sequence[RunData], out_dir: Path, *, title: str | None = None) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png`` for ``runs``.

    Returns:
        The path of ``report.html``.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    out_dir.mkdir(parents=True, exist_ok=True)
    save = _FigureWriter(out_dir)
    many = len(runs) > 1
    title = title or (
        f"DataEnvGym report: {runs[0].name}" if not many else f"DataEnvGym report: {len(runs)} runs"
    )
    nav = [f'<a href="#run{i}">{escape(r.name)}</a>' for i, r in enumerate(runs)]
    nav.append('<a href="#analyses">analyses</a>')
    if many:
        nav.insert(0, '<a href="#comparison">comparison</a>')
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Made {time.strftime("%Y-%m-%d %H:%M")} from {len(runs)} run(s). '
        "Test accuracy is measured on the held-out test split, which the teacher never "
        "sees; the reward is the change in validation accuracy.</p>",
        f"<nav>{''.join(nav)}</nav>",
    ]
    sections = [_run_section(run, i, save, open_details=not many) for i, run in enumerate(runs)]
    if many:  # the comparison first; one run's own details first
        body += [_comparison(runs, save), _analyses(runs, save), *sections]
    else:
        body += [*sections, _analyses(runs, save)]
    path = out_dir / "report.html"
    path.write_text(page(title, "".join(body)), encoding="utf-8")
    return path
