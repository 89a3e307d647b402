"""The board as a terminal table, Markdown, CSV, JSON and a self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from dataenvgym.leaderboard.board import Board, BoardRow, setting_label, unseparated

PRIVILEGED_MARK = "🔒"
LEGEND = (
    "Gain: test accuracy after − before, in points, mean ± 95 % t-interval over seeds. "
    "Score: normalized teaching score (gain − no-state gain) / (oracle gain − no-state gain), "
    "a ratio of means over the seeds where all three ran, [95 % Fieller interval], which "
    "carries the gap's own seed noise: [unbounded] where the oracle − no-state gap's "
    "interval holds 0; 0 = no-state, 1 = oracle. "
    "Data to match: training data needed to reach no-state's final test accuracy, as a fraction of "
    "no-state's data (interpolated on the per-iteration test curve). "
    "Data trained: training data the environment kept over the episode, after its duplicate "
    f"and contamination filter, mean over seeds. {PRIVILEGED_MARK} "
    "privileged: the oracle sees the student itself (a one-step look-ahead on a private copy "
    "of the test distribution), never the test items; it is the upper reference, not a "
    "competitor."
)
SETTING_COLUMNS = ["domain", "env", "budget", "student"]
COLUMNS = [
    *SETTING_COLUMNS,
    "agent",
    "seeds",
    "gain (pts)",
    "final test",
    "data trained",
    "score",
    "data to match",
]


def _cells(row: BoardRow) -> list[str]:
    agent = f"{row.agent} {PRIVILEGED_MARK}" if row.privileged else row.agent
    if row.role:
        agent += f" ({row.role})"
    score = row.score.format() if row.score is not None else ""
    efficiency = row.efficiency.format() if row.efficiency is not None else ""
    domain, env, budget, iterations, student = row.setting
    return [
        domain,
        env,
        f"{iterations}×{budget}",
        student,
        agent,
        str(row.gain.n),
        f"{row.gain.mean * 100:+.1f} ± {row.gain.half_width * 100:.1f}"
        if row.gain.n > 1
        else f"{row.gain.mean * 100:+.1f}",
        f"{row.final.mean:.3f}",
        f"{row.data_trained:.0f}" if math.isfinite(row.data_trained) else "",
        score,
        efficiency,
    ]


def _gap_text(row: BoardRow) -> str:
    """The setting's oracle − no-state gap in points, with its paired interval if any."""
    interval = row.paired_gap
    if interval is None or interval.n < 2:
        return f"{row.oracle_gap * 100:+.1f}"
    return f"{interval.mean * 100:+.1f} ± {interval.half_width * 100:.1f}"


def _overall_lines(board: Board) -> list[list[str]]:
    lines = []
    for item in board.overall():
        agent = f"{item['agent']} {PRIVILEGED_MARK}" if item["privileged"] else item["agent"]
        mean = item["mean_score"]
        lines.append(
            [
                agent,
                "" if math.isnan(mean) else f"{mean:.2f}",
                f"{item['settings_scored']}/{item['settings']}",
            ]
        )
    return lines


def _repeat_lines(board: Board) -> list[str]:
    """One line per agent that played the same episodes in two settings."""
    return [
        f"{agent} played the same episodes in {setting_label(setting)} as in "
        f"{setting_label(earlier)}: one setting for it, counted once in its mean where its "
        "references repeat too."
        for agent, setting, earlier in board.repeats
    ]


def rich_table(board: Board) -> Table:
    table = Table(title="leaderboard")
    text_columns = [*SETTING_COLUMNS, "agent"]
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in text_columns else "right")
    previous = None
    for row in board.rows:
        cells = _cells(row)
        if row.setting == previous:
            cells[: len(SETTING_COLUMNS)] = [""] * len(SETTING_COLUMNS)
        previous = row.setting
        # Escaped: Rich would read a score's "[unbounded]" as a markup tag and drop it.
        table.add_row(*map(escape, cells), style="dim" if row.privileged else None)
    return table


def markdown(board: Board) -> str:
    """Two tables: every setting × agent, then the mean score per agent."""
    out = io.StringIO()
    out.write("| " + " | ".join(COLUMNS) + " |\n")
    out.write("| " + " | ".join(["---"] * len(COLUMNS)) + " |\n")
    for row in board.rows:
        out.write("| " + " | ".join(_cells(row)) + " |\n")
    gaps = {row.setting: row for row in board.rows if not math.isnan(row.oracle_gap)}
    if gaps:
        listed = "; ".join(f"{setting_label(s)} {_gap_text(row)}" for s, row in gaps.items())
        out.write(
            "\nOracle − no-state gain (pts), the score's denominator (paired by seed, "
            f"mean ± 95 % t-interval): {listed}.\n"
        )
    seconds = {s: t for s, t in board.episode_seconds().items() if math.isfinite(t)}
    if seconds:
        listed = "; ".join(f"{setting_label(s)} {t / 60:.0f} min" for s, t in seconds.items())
        out.write(
            "\nEpisode time per setting, every agent and seed added up (one worker's time, "
            f"without pretraining): {listed}; {sum(seconds.values()) / 3600:.1f} h in all.\n"
        )
    flat = unseparated(board)
    if flat:
        names = ", ".join(setting_label(s) for s in flat)
        out.write(f"\nCannot tell agents apart (oracle ≤ no-state): {names}.\n")
    for repeat in _repeat_lines(board):
        out.write(f"\n{repeat}\n")
    out.write("\n| agent | mean score | settings scored |\n| --- | --- | --- |\n")
    for line in _overall_lines(board):
        out.write("| " + " | ".join(line) + " |\n")
    if board.failed:
        out.write("\nFailed episodes: " + "; ".join(board.failed) + "\n")
    out.write(f"\n{LEGEND}\n")
    return out.getvalue()


def records(board: Board) -> list[dict[str, Any]]:
    """One flat record per row (CSV and JSON)."""
    out = []
    for row in board.rows:
        domain, env, budget, iterations, student = row.setting
        score = row.score.score if row.score is not None else None
        eff = row.efficiency
        out.append(
            {
                "domain": domain,
                "env": env,
                "budget": budget,
                "iterations": iterations,
                "student": student,
                "agent": row.agent,
                "privileged": row.privileged,
                "seeds": row.gain.n,
                "gain_mean": row.gain.mean,
                "gain_low": row.gain.low,
                "gain_high": row.gain.high,
                "final_test_mean": row.final.mean,
                "data_trained_mean": _finite(row.data_trained),
                "episode_seconds_mean": _finite(row.episode_seconds),
                "oracle_gap": row.oracle_gap,
                "oracle_gap_low": row.paired_gap.low if row.paired_gap else None,
                "oracle_gap_high": row.paired_gap.high if row.paired_gap else None,
                "score_mean": score.mean if score else None,
                "score_low": _finite(score.low) if score else None,
                "score_high": _finite(score.high) if score else None,
                "score_note": _score_note(row),
                "data_fraction_mean": eff.interval.mean if eff and eff.interval else None,
                "data_fraction_low": eff.interval.low if eff and eff.interval else None,
                "data_fraction_high": eff.interval.high if eff and eff.interval else None,
                "data_reached": f"{eff.reached}/{eff.seeds}" if eff else "",
            }
        )
    return out


def _finite(value: float) -> float | None:
    """JSON has no infinity: an unbounded end of an interval is written as null."""
    return value if math.isfinite(value) else None


def _score_note(row: BoardRow) -> str:
    if row.score is None:
        return row.role
    if row.score.score is not None and not row.score.bounded:
        return "interval unbounded: the oracle − no-state gap is within seed noise"
    return row.score.reason


def csv_text(board: Board) -> str:
    rows = records(board)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .7rem; text-align: right; }
th { background: #f3f3f3; } td:nth-child(-n+5), th:nth-child(-n+5) { text-align: left; }
tr.privileged { background: #fff6e0; } tr.reference td:nth-child(5) { font-style: italic; }
.badge { background: #b26b00; color: white; border-radius: 3px; padding: 0 .3rem;
         font-size: .8em; margin-left: .3rem; }
p.legend { max-width: 60rem; color: #555; }
"""


def html_page(board: Board, title: str) -> str:
    """A self-contained page (no scripts, no external files)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in board.rows:
        cells = [html.escape(c) for c in _cells(row)]
        if row.privileged:
            at = len(SETTING_COLUMNS)
            cells[at] = cells[at].replace(PRIVILEGED_MARK, '<span class="badge">privileged</span>')
        classes = " ".join(
            c for c, on in (("privileged", row.privileged), ("reference", bool(row.role))) if on
        )
        body.append(f'<tr class="{classes}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    overall = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>"
        for line in _overall_lines(board)
    )
    flat = [setting_label(s) for s in unseparated(board)]
    note = (
        f"<p>Cannot tell agents apart (oracle ≤ no-state): {html.escape(', '.join(flat))}</p>"
        if flat
        else ""
    )
    note += "".join(f"<p>{html.escape(line)}</p>" for line in _repeat_lines(board))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
        "<h2>Mean normalized score per agent</h2><table><thead><tr><th>agent</th>"
        f"<th>mean score</th><th>settings scored</th></tr></thead><tbody>{overall}</tbody>"
        f"</table><p class='legend'>{html.escape(LEGEND)}</p></body></html>\n"
    )


def write_board(
    board: Board, out_dir: Path, title: str, runs: list[dict[str, Any]] | None = None
) -> dict[str, Path]:
    """``leaderboard.md``, ``.csv``, ``.json`` and ``.html`` in ``out_dir``.

    ``runs`` (:func:`dataenvgym.leaderboard.archive.archive_records`) are kept in the JSON,
    so that the board can be rebuilt and merged without its run folders.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "leaderboard.md",
        "csv": out_dir / "leaderboard.csv",
        "json": out_dir / "leaderboard.json",
        "html": out_dir / "leaderboard.html",
    }
    paths["markdown"].write_text(f"# {title}\n\n{markdown(board)}")
    paths["csv"].write_text(csv_text(board))
    payload = {
        "rows": records(board),
        "overall": board.overall(),
        "repeats": [
            {"agent": agent, "setting": list(setting), "repeats": list(earlier)}
            for agent, setting, earlier in board.repeats
        ],
        "failed": board.failed,
        "runs": runs or [],
    }
    paths["json"].write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    paths["html"].write_text(html_page(board, title))
    return paths
