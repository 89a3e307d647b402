"""Real tiny run folders, made once per session through `dataenvgym run`, for the report
and export tests: two seeds of the with-state agent and one of the no-state baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app

TINY_RUN_CONFIG = {
    "env": "skill-tree",
    "iterations": 2,
    "budget": 40,
    "trainer": {"steps_per_iteration": 5},
    "student_config": {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 32},
    "pretrain": {"steps": 10, "examples": 300},
    "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
}
#: (agent, seed) of the session's runs; the first is the one single-run tests use.
RUNS = (("with-state", 0), ("with-state", 1), ("no-state", 0))


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Run folders made by the CLI; the first has the report.html that `run` writes."""
    root = tmp_path_factory.mktemp("report_runs")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN_CONFIG))
    folders: list[Path] = []
    with pytest.MonkeyPatch.context() as patch:
        # Same private cache as the autouse fixture, which a session fixture runs before.
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        for agent, seed in RUNS:
            out = root / "runs" / f"{agent}-s{seed}"
            args = ["run", "--config", str(config), "--agent", agent, "--seed", str(seed)]
            # The first run writes its own report.html, as `run` does by default.
            args += [] if not folders else ["--no-report"]
            result = CliRunner().invoke(app, [*args, "--out", str(out)])
            assert result.exit_code == 0, result.output
            folders.append(out)
    return folders


@pytest.fixture(scope="session")
def tiny_run(tiny_runs: list[Path]) -> Path:
    return tiny_runs[0]
