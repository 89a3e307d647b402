"""HTML building blocks of the report: escaped tables, embedded figures, the page shell.

The page is self-contained: styles inline, figures as base64 ``data:`` URLs, no script and
no external URL, so it opens from a file, an e-mail attachment or a CI artifact alike.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from dataenvgym.report.analysis import Table

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.2rem 1.6rem; color: #1d232a; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { margin-top: 1.4rem; font-size: 1.08rem; }
nav a { margin-right: .9rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .86rem; }
th, td { border: 1px solid #d0d7de; padding: .2rem .55rem; text-align: right; }
th { background: #f3f5f7; }
td.text, th.text { text-align: left; }
tr.skill td { font-weight: 600; background: #f8fafc; }
tr.total td { font-weight: 700; border-top: 2px solid #8c959f; }
td.up { color: #1a7f37; } td.down { color: #cf222e; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { font-size: .8rem; color: #57606a; }
.headline { font-size: 1.02rem; }
.meta td { text-align: left; } .note { color: #57606a; font-size: .85rem; }
details { margin: .3rem 0; } summary { cursor: pointer; font-weight: 600; }
code { background: #f3f5f7; padding: 0 .25rem; }
"""


def fmt(value: Any, digits: int = 3) -> str:
    """A cell's text: floats rounded, nan as an en dash, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def table_html(table: Table, *, table_id: str | None = None, css_class: str = "") -> str:
    """A :class:`Table` as an HTML table; text columns are left-aligned."""
    text_cols = {
        i
        for i, _ in enumerate(table.columns)
        if all(isinstance(row[i], str) for row in table.rows) and table.rows
    }
    ident = f' id="{escape(table_id)}"' if table_id else ""
    klass = f' class="{escape(css_class)}"' if css_class else ""
    head = "".join(
        f'<th class="text">{escape(c)}</th>' if i in text_cols else f"<th>{escape(c)}</th>"
        for i, c in enumerate(table.columns)
    )
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="text">{escape(fmt(v))}</td>'
            if i in text_cols
            else f"<td>{escape(fmt(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f"<h3>{escape(table.title)}</h3>"
        f"<table{ident}{klass}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


def figure_html(png: bytes, caption: str, file_name: str) -> str:
    """An embedded PNG with its caption; ``data-file`` names the PNG written beside it."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img class="figure" src="data:image/png;base64,{data}" '
        f'alt="{escape(caption)}" data-file="{escape(file_name)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def figures_block(items: Sequence[str]) -> str:
    return f'<div class="figures">{"".join(items)}</div>'


def change_cell(before: float, after: float) -> str:
    delta = after - before
    css = "up" if delta > 0.0005 else "down" if delta < -0.0005 else ""
    return f'<td class="{css}">{delta:+.3f}</td>'


def per_skill_table(summary: dict[str, Any], table_id: str) -> str:
    """Test accuracy per skill and subskill, before → after, straight from ``summary.json``.

    Each row carries ``data-unit``, ``data-before`` and ``data-after`` with the unrounded
    values, so a reader (or a test) can check the page against the summary exactly.
    """
    initial, final = summary["initial"], summary["final"]
    skills_before = initial.get("test_per_skill", {})
    skills_after = final.get("test_per_skill", {})
    subs_before = initial.get("test_per_subskill", {})
    subs_after = final.get("test_per_subskill", {})
    rows = []

    def row(unit: str, label: str, before: float, after: float, css: str) -> str:
        return (
            f'<tr class="{css}" data-unit="{escape(unit)}" data-before="{before!r}" '
            f'data-after="{after!r}"><td class="text">{escape(label)}</td>'
            f"<td>{before:.3f}</td><td>{after:.3f}</td>{change_cell(before, after)}</tr>"
        )

    for skill in sorted(skills_before.keys() | skills_after.keys()):
        if skill in skills_before and skill in skills_after:
            rows.append(row(skill, skill, skills_before[skill], skills_after[skill], "skill"))
        for key in sorted(k for k in subs_before if k.split("/", 1)[0] == skill):
            if key in subs_after:
                label = "\u2003" + key.split("/", 1)[1]
                rows.append(row(key, label, subs_before[key], subs_after[key], "subskill"))
    rows.append(row("all", "all", initial["test_accuracy"], final["test_accuracy"], "total"))
    return (
        f'<table id="{escape(table_id)}" class="per-skill">'
        '<thead><tr><th class="text">skill / subskill</th><th>test before</th>'
        "<th>test after</th><th>change</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def tree_html(nodes: dict[str, dict[str, Any]], has_forest: bool) -> str:
    """One iteration's skill tree: skill rows, then their subskills with allocations."""
    columns = (
        ["allocation", "kept data this iteration", "val acc", "acc on own data", "data so far"]
        if has_forest
        else ["kept data this iteration", "val acc"]
    )
    head = '<tr><th class="text">skill / subskill</th>' + "".join(f"<th>{c}</th>" for c in columns)
    head += "</tr>"
    rows = []
    for skill, node in nodes.items():
        span = 6 if has_forest else 3
        rows.append(
            f'<tr class="skill"><td class="text">{escape(skill)}</td>'
            f'<td class="text" colspan="{span - 1}">val acc {fmt(node.get("accuracy"))}</td></tr>'
        )
        for name, sub in node["subskills"].items():
            cells = [fmt(sub.get("data"))]
            if has_forest:
                cells = [
                    fmt(sub.get("allocation")),
                    *cells,
                    fmt(sub.get("val_accuracy")),
                    fmt(sub.get("data_accuracy")),
                    fmt(sub.get("total_data")),
                ]
            else:
                cells.append(fmt(sub.get("val_accuracy")))
            rows.append(
                f'<tr><td class="text">\u2003{escape(name)}</td>'
                + "".join(f"<td>{c}</td>" for c in cells)
                + "</tr>"
            )
    return f'<table class="tree"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
