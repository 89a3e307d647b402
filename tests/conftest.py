"""Shared fixtures: a tiny, fast configuration of every component, and a private cache."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dataenvgym.numerics import numerics_environment

# The session computes with the leaderboard's default numerics (set before torch starts), so
# boards run their episodes in this process, as they do in any process started with them.
os.environ.update(numerics_environment("portable"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Base students are cached per test session, never in the user's cache."""
    monkeypatch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Any:
    """Tests' models are tiny: one thread is as fast, and on a busy machine far faster (two
    OpenMP threads contending for cores made a tiny episode 15x slower, measured). Child
    processes (CLI subprocess tests, Ray workers) inherit it through OMP_NUM_THREADS."""
    import os

    import torch

    previous = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(previous[0])
    if previous[1] is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = previous[1]


TINY_STUDENT: dict[str, Any] = {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 32}


def tiny_env_kwargs(env: str = "skill-tree", **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``make_env`` that build an episode in a few seconds."""
    kwargs: dict[str, Any] = {
        "env": env,
        "domain": "arithmetic",
        "env_config": {"budget_per_iteration": 60, "max_iterations": 2},
        "trainer_config": {"steps_per_iteration": 8},
        "student_config": TINY_STUDENT,
        "pretrain_config": {"steps": 20, "examples": 400},
        "domain_config": {"val_per_subskill": 8, "test_per_subskill": 8},
    }
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def tiny_student() -> dict[str, Any]:
    return dict(TINY_STUDENT)


@pytest.fixture
def tiny_kwargs() -> Any:
    return tiny_env_kwargs


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


# --------------------------------------------------------------------------- report tests

TINY_RUN_CONFIG: dict[str, Any] = {
    "env": "skill-tree",
    "iterations": 2,
    "budget": 40,
    "trainer": {"steps_per_iteration": 5},
    "student_config": TINY_STUDENT,
    "pretrain": {"steps": 10, "examples": 300},
    "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
}
#: (agent, seed) of the session's tiny runs; the first is the one single-run tests use.
TINY_RUNS = (("with-state", 0), ("with-state", 1), ("no-state", 0))


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real tiny run folders made once per session through `dataenvgym run` (two seeds of
    with-state, one of no-state); the first has the report.html that `run` writes."""
    import yaml
    from typer.testing import CliRunner

    from dataenvgym.cli import app

    root = tmp_path_factory.mktemp("report_runs")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN_CONFIG))
    folders: list[Path] = []
    with pytest.MonkeyPatch.context() as patch:
        # Same private cache as the autouse fixture, which a session fixture runs before.
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        for agent, seed in TINY_RUNS:
            out = root / "runs" / f"{agent}-s{seed}"
            args = ["run", "--config", str(config), "--agent", agent, "--seed", str(seed)]
            args += [] if not folders else ["--no-report"]
            result = CliRunner().invoke(app, [*args, "--out", str(out)])
            assert result.exit_code == 0, result.output
            folders.append(out)
    return folders


@pytest.fixture(scope="session")
def tiny_run(tiny_runs: list[Path]) -> Path:
    return tiny_runs[0]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """When code-domain tests ran, say which isolation the code sandbox had (and as whom)."""
    ran = (r for reports in terminalreporter.stats.values() for r in reports)
    if not any("tests/domains/code/" in getattr(r, "nodeid", "") for r in ran):
        return
    from dataenvgym.domains.code.sandbox import isolation_report

    summary = isolation_report().summary()
    terminalreporter.write_line(f"code sandbox isolation (uid {os.geteuid()}): {summary}")


# --------------------------------------------------------------------------- agents


def _first_plan_total(action: Any) -> int:
    """The data a first plan asks for: Open-Ended specs, Skill-List requests, or Skill-Tree
    allocations (new subskills and changed ones; a first plan finds an empty forest)."""
    from dataenvgym.types import OpenEndedAction, SkillListAction, SkillTreeAction

    if isinstance(action, OpenEndedAction):
        return sum(spec.count for spec in action.specs)
    if isinstance(action, SkillListAction):
        return sum(request.count for request in action.requests.values())
    assert isinstance(action, SkillTreeAction), type(action)
    explored = sum(n.allocation for subs in action.explore.values() for n in subs)
    return explored + sum(n for subs in action.exploit.values() for n in subs.values())


@pytest.fixture
def first_plan_total() -> Callable[[Any], int]:
    """``first_plan_total(action)``: what an agent's first plan asks for, in any environment
    (for the tests that every built-in agent spends exactly its budget)."""
    return _first_plan_total


# --------------------------------------------------------------------------- bench scripts

BENCH = Path(__file__).parents[1] / "bench"


def _load_bench(name: str) -> ModuleType:
    # bench/ on the path: a script may import its sibling scripts by name.
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_bench() -> Callable[[str], ModuleType]:
    """``load_bench("state_vs_no_state")`` is the script bench/state_vs_no_state.py as a
    module, for the tests of its pieces."""
    return _load_bench
