"""The runs behind a board, kept in its ``leaderboard.json`` so that a board outlives its run
folders.

A board is built from run summaries only. ``leaderboard.json`` carries, besides the rows,
every run it was built from: the run's full settings and the part of its summary that the
board reads. ``dataenvgym leaderboard --merge OTHER/leaderboard.json`` puts those runs back
beside the run folders, so boards run on several machines (or whose run folders are
gone) combine into one, and the combined board is rebuilt by the command itself rather
than by joining tables by hand. An archived run counts for an episode only when its settings
equal the episode's exactly, as a run folder must.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dataenvgym.config import RunConfig
from dataenvgym.errors import ConfigError

#: What :func:`dataenvgym.leaderboard.board.build_board` reads of a ``summary.json``, besides
#: the initial and final test accuracy.
SUMMARY_KEYS = (
    "privileged",
    "agent_revision",
    "domain_version",
    "numerics",
    "total_training_data",
)
ITERATION_KEYS = ("iteration", "num_total_data", "test_accuracy", "test_measured")


def board_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run summary a board needs (accuracies and data per iteration)."""
    out: dict[str, Any] = {k: summary[k] for k in SUMMARY_KEYS if k in summary}
    out["initial"] = {"test_accuracy": summary["initial"]["test_accuracy"]}
    out["final"] = {"test_accuracy": summary["final"]["test_accuracy"]}
    if summary.get("teacher_health"):  # a degraded run stays refused when merged back
        out["teacher_health"] = {"degraded": bool(summary["teacher_health"].get("degraded"))}
    out["iterations"] = [
        {k: row[k] for k in ITERATION_KEYS if k in row} for row in summary.get("iterations", [])
    ]
    return out


def archive_records(runs: Iterable[tuple[RunConfig, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One JSON record per finished run: its settings and its board summary."""
    return [
        {"config": config.model_dump(mode="json"), "summary": board_summary(summary)}
        for config, summary in runs
    ]


def config_key(config: RunConfig) -> str:
    """A run's settings as one comparable string."""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True)


def load_archive(path: Path) -> dict[str, dict[str, Any]]:
    """The archived runs of a ``leaderboard.json``: settings key -> board summary.

    Raises:
        ConfigError: the file is missing, not a board, or holds an invalid run.
    """
    if not path.is_file():
        raise ConfigError(f"board file {path} does not exist")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not JSON: give a leaderboard.json") from err
    if not isinstance(payload, dict) or not isinstance(payload.get("runs"), list):
        raise ConfigError(
            f"{path} holds no runs: only boards written by this version keep them "
            "(rebuild it with `dataenvgym leaderboard --no-run` over its run folders)"
        )
    out: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(payload["runs"]):
        try:
            config = RunConfig.model_validate(record["config"])
            summary = board_summary(record["summary"])
        except (KeyError, TypeError, ValidationError) as err:
            raise ConfigError(f"{path}: run {index} is not a valid archived run ({err})") from err
        out[config_key(config)] = summary
    return out
