"""The run folder: everything an episode leaves behind, in plain JSON and JSONL.

```
RUN/
  config.yaml            the resolved configuration
  events.jsonl           one line per event (reset, step, test, end)
  iteration_000/         the base student: val results, report (val + test)
  iteration_001/         plan.json, data.jsonl, val_results.jsonl, report.json
  iteration_NNN/checkpoint/  the two newest iterations: state.pkl, student/ and
                         manifest.json (for --resume; see dataenvgym.checkpoint)
  ...
  summary.json           see runner.summarise
```
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from dataenvgym.types import ActionBase, EvaluatedInstance, TrainingDatum


def _write_jsonl(path: Path, rows: Iterable[BaseModel]) -> None:
    with path.open("w") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _write_atomically(path: Path, text: str) -> None:
    """Write aside and rename, so that a crash never leaves half a file under ``path``."""
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text)
    os.replace(staging, path)


class RunFolder:
    """Writes one episode's files.

    Args:
        root: The run directory (created if missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def iteration_dir(self, iteration: int) -> Path:
        path = self.root / f"iteration_{iteration:03d}"
        path.mkdir(exist_ok=True)
        return path

    def write_config(self, config: dict[str, Any]) -> None:
        _write_atomically(self.root / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def event(self, kind: str, **fields: Any) -> None:
        record = {"time": time.time(), "event": kind, **fields}
        path = self.root / "events.jsonl"
        # A log cut mid-line (a crash, a full disk) gets its next record on a line of its
        # own, so only the cut line is lost.
        with path.open("ab") as handle:
            if handle.tell() and not _ends_with_newline(path):
                handle.write(b"\n")
            handle.write((json.dumps(record, default=str) + "\n").encode("utf-8"))

    def write_iteration(
        self,
        iteration: int,
        *,
        plan: ActionBase | None,
        data: list[TrainingDatum],
        val_results: list[EvaluatedInstance],
        report: dict[str, Any],
    ) -> None:
        folder = self.iteration_dir(iteration)
        if plan is not None:
            (folder / "plan.json").write_text(
                plan.model_dump_json(indent=2, exclude={"data"}) + "\n"
            )
            _write_jsonl(folder / "data.jsonl", data)
        _write_jsonl(folder / "val_results.jsonl", val_results)
        (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    def write_summary(self, summary: dict[str, Any]) -> None:
        # A summary.json that exists is a whole one: that is how `--resume` tells a finished
        # run from an interrupted one.
        _write_atomically(self.root / "summary.json", json.dumps(summary, indent=2) + "\n")
