"""The numbers in README.md and docs/ are the numbers in bench/results/, and stay so."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_results", ROOT / "scripts" / "render_results.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_results"] = module
    spec.loader.exec_module(module)
    return module


render = _load_renderer()
PAGES = render.pages(ROOT)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)


def _outside_blocks(text: str) -> str:
    """The text a person writes by hand: results blocks and code fences removed."""
    return FENCE.sub("", render.BLOCK.sub("", text))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_results_block_matches_the_files(page: Path) -> None:
    assert render.stale_blocks(page) == [], "run: python scripts/render_results.py"


def test_the_front_page_and_the_results_page_carry_results() -> None:
    assert "headline" in render.block_names((ROOT / "README.md").read_text())
    names = render.block_names((ROOT / "docs" / "results.md").read_text())
    assert {"headline", "gaps", "include:oracle_look_ahead.md"} <= set(names)


def test_a_number_edited_by_hand_is_caught(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "results.md").read_text()
    match = next(m for m in render.BLOCK.finditer(text) if m.group("name") == "headline")
    body = match.group("body")
    number = re.search(r"\d+\.\d\d", body)
    assert number is not None
    digit = number.group()[-1]
    edited_number = number.group()[:-1] + str((int(digit) + 1) % 10)
    edited_body = body[: number.start()] + edited_number + body[number.end() :]
    page = tmp_path / "results.md"
    page.write_text(text[: match.start("body")] + edited_body + text[match.end("body") :])
    assert render.stale_blocks(page) == ["headline"]
    page.write_text(render.render_text(page.read_text()))  # the renderer repairs it
    assert render.stale_blocks(page) == []


def test_a_changed_results_file_makes_the_page_stale(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(ROOT / "bench" / "results", results)
    board = json.loads((results / "leaderboard-standard.json").read_text())
    board["rows"][0]["final_test_mean"] += 0.1
    (results / "leaderboard-standard.json").write_text(json.dumps(board))
    page = ROOT / "docs" / "leaderboard.md"
    assert render.stale_blocks(page, results) == ["leaderboard"]


def test_a_results_file_without_provenance_cannot_be_rendered(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(ROOT / "bench" / "results", results)
    table = json.loads((results / "provenance.json").read_text())
    del table["leaderboard-standard.json"]["torch"]
    (results / "provenance.json").write_text(json.dumps(table))
    with pytest.raises(render.ResultsError, match="lacks torch"):
        render.render_block("headline", results)


def test_every_rendered_file_records_how_it_was_made() -> None:
    names = {name for page in PAGES for name in render.block_names(page.read_text())}
    assert names, "no results blocks found"
    for name in names:
        assert "*Source: `bench/results/" in render.render_block(name)


def test_an_unknown_block_is_an_error() -> None:
    with pytest.raises(render.ResultsError, match="unknown results block"):
        render.render_block("no-such-table")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_intervals_appear_only_in_rendered_blocks(page: Path) -> None:
    """A "± number" written by hand would drift from the files: only blocks may hold one."""
    assert re.findall(r"±\s*\d", _outside_blocks(page.read_text())) == []


DEVELOPMENT_TALK = re.compile(
    r"\.\./shared|CALIBRATION\.md|DESIGN\.md|this stop|stop [0-9]+|stop's|earlier machine"
    r"|this machine kept",
    re.IGNORECASE,
)


def test_product_text_points_nowhere_outside_the_repository() -> None:
    files = [*PAGES, *sorted((ROOT / "bench").rglob("*.md")), *sorted((ROOT / "src").rglob("*.py"))]
    found = [
        f"{path.relative_to(ROOT)}: {hit.group()}"
        for path in files
        for hit in DEVELOPMENT_TALK.finditer(path.read_text())
    ]
    names = [p.name for p in (ROOT / "bench" / "results").rglob("*") if "earlier" in p.name]
    assert found == [] and names == []
