"""report.html without a browser: self-contained, written by `run`, every section there;
and the `analyze` command's numbers against the summaries they come from."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataenvgym.cli import app

runner = CliRunner()


class _Collector(HTMLParser):
    """Every tag with its attributes, and the ids in the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def test_run_writes_a_self_contained_report_into_its_folder(tiny_run: Path) -> None:
    page = _parse(tiny_run / "report.html")
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    pngs = sorted((tiny_run / "figures").glob("*.png"))
    assert len(images) == len(pngs) >= 9
    for attrs in images:
        assert (attrs["src"] or "").startswith("data:image/png;base64,")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe")
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert value.startswith(("data:", "#")) or not value, (tag, attrs)
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"run0", "per-skill-run0", "analyses", "gain-by-difficulty", "dynamics"} <= ids
    html = (tiny_run / "report.html").read_text()
    for text in ("Skill tree per iteration", "allocation", "Errors before and after", "LLM"):
        assert text in html


def test_report_of_several_runs_compares_them(tiny_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(tiny_runs[0].parent), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 run(s)" in result.output
    page = _parse(out / "report.html")
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"comparison", "teachers", "run0", "run1", "run2"} <= ids
    assert (out / "figures" / "compare-final.png").stat().st_size > 1000


def test_analyze_teachers_matches_the_summaries(tiny_runs: list[Path]) -> None:
    result = runner.invoke(app, ["analyze", "teachers", *map(str, tiny_runs), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in json.loads(result.output)}
    summaries = [json.loads((run / "summary.json").read_text()) for run in tiny_runs]
    finals = [s["final"]["test_accuracy"] for s in summaries]
    with_state = rows["skill-tree / arithmetic / with-state"]
    assert with_state["seeds"] == 2
    assert with_state["final test"] == pytest.approx((finals[0] + finals[1]) / 2)
    assert with_state["vs no-state"] == pytest.approx(finals[0] - finals[2])
    assert rows["skill-tree / arithmetic / no-state"]["vs no-state"] is None


@pytest.mark.parametrize("analysis", ["difficulty", "frequency", "dynamics", "subskills"])
def test_every_analysis_prints_a_table(tiny_runs: list[Path], analysis: str) -> None:
    result = runner.invoke(app, ["analyze", analysis, str(tiny_runs[0].parent)])
    assert result.exit_code == 0, result.output
    assert "with-state" in result.output


def test_report_of_a_folder_without_runs_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "holds no finished run" in result.output
