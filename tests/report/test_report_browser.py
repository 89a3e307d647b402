"""The report in a real headless Chromium: figures load, no console errors, no network, and
the per-skill table shows exactly what summary.json holds. A screenshot is taken.

Needs Debian's ``chromium`` (scripts/test.sh installs it where apt is available) and the
``playwright`` Python package (the [dev] extra), which drives that browser; Playwright's own
browser download is never used.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dataenvgym.cli import app

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The closed network here makes Chromium's background services fail noisily; keep them off.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    if CHROMIUM is None:
        pytest.skip(
            "Chromium is not installed: `apt-get install -y chromium` "
            "(scripts/test.sh does this where apt-get is available and it runs as root)"
        )
    return CHROMIUM


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _expected_rows(summary: dict[str, Any]) -> dict[str, tuple[float, float]]:
    before, after = summary["initial"], summary["final"]
    rows = {"all": (before["test_accuracy"], after["test_accuracy"])}
    for key in ("test_per_skill", "test_per_subskill"):
        rows |= {unit: (before[key][unit], after[key][unit]) for unit in before[key]}
    return rows


def _check_page(page: Any, html: Path, tmp_path: Path, name: str) -> list[dict[str, Any]]:
    """Load ``html``; check figures, console and network; return its per-skill tables."""
    console: list[str] = []
    failures: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else 0)
    page.on("pageerror", lambda e: failures.append(str(e)))
    page.on(
        "request",
        lambda r: failures.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(html.as_uri(), wait_until="load")
    images = page.evaluate(
        """() => Array.from(document.images).map(i => ({
            src: i.getAttribute('src').slice(0, 22), width: i.naturalWidth,
            complete: i.complete, file: i.dataset.file}))"""
    )
    figures = sorted(p.name for p in (html.parent / "figures").glob("*.png"))
    assert len(images) == len(figures) >= 9
    for image in images:
        assert image["complete"] and image["width"] > 0, image
        assert image["src"] == "data:image/png;base64,"
    assert sorted(Path(i["file"]).name for i in images) == figures
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height = _png_size(shot)
    assert width == 1280 and height > 2000  # the whole long page, not a blank viewport
    assert console == [], console
    assert failures == [], failures
    tables: list[dict[str, Any]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('table.per-skill')).map(t => ({
            section: t.closest('section').id,
            rows: Array.from(t.querySelectorAll('tbody tr')).map(r => ({
                unit: r.dataset.unit, before: r.dataset.before, after: r.dataset.after,
                cells: Array.from(r.cells).map(c => c.textContent.trim())}))}))"""
    )
    return tables


def test_reports_render_in_headless_chromium(tiny_runs: list[Path], tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    executable = _chromium()
    out = tmp_path / "compare"
    result = CliRunner().invoke(app, ["report", *map(str, tiny_runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pages = {
        "compare": (out / "report.html", tiny_runs),
        "own": (tiny_runs[0] / "report.html", tiny_runs[:1]),
    }
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            for name, (html, runs) in pages.items():
                page = browser.new_page()
                tables = _check_page(page, html, tmp_path, name)
                page.close()
                assert [t["section"] for t in tables] == [f"run{i}" for i in range(len(runs))]
                for table, run in zip(tables, runs, strict=True):
                    summary = json.loads((run / "summary.json").read_text())
                    expected = _expected_rows(summary)
                    assert {row["unit"] for row in table["rows"]} == set(expected)
                    for row in table["rows"]:
                        before, after = expected[row["unit"]]
                        assert float(row["before"]) == before and float(row["after"]) == after
                        assert row["cells"][1:3] == [f"{before:.3f}", f"{after:.3f}"]
        finally:
            browser.close()
