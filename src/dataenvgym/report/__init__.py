"""See what happened in a run: ``report.html`` with figures, the paper's analyses, export.

* :func:`write_report` — one self-contained HTML page for one or many run folders.
* :mod:`dataenvgym.report.analysis` — gain by difficulty and frequency, per-iteration
  dynamics, teachers compared (mean ± std over seeds).
* :func:`export_run` — the generated training data as JSONL, a Hugging Face dataset or
  OpenAI chat fine-tuning JSONL.

Matplotlib is imported only when a report is built, so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dataenvgym.report.export import EXPORT_FORMATS, ExportError, export_rows, export_run
from dataenvgym.report.run_data import RunData, RunFolderError, find_runs, load_run


def build_report(runs: Sequence[RunData], out_dir: Path, *, title: str | None = None) -> Path:
    """Write ``out_dir/report.html`` and its figures for loaded runs; returns the HTML path."""
    from dataenvgym.report.builder import build_report as build

    return build(runs, out_dir, title=title)


def write_report(paths: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Load the runs under ``paths`` (run folders or folders of runs) and write their report.

    Raises:
        RunFolderError: when a path holds no finished run.
    """
    return build_report(find_runs(paths), Path(out_dir))


__all__ = [
    "EXPORT_FORMATS",
    "ExportError",
    "RunData",
    "RunFolderError",
    "build_report",
    "export_rows",
    "export_run",
    "find_runs",
    "load_run",
    "write_report",
]
