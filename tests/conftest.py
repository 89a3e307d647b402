"""Shared fixtures: a tiny, fast configuration of every component, and a private cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Base students are cached per test session, never in the user's cache."""
    monkeypatch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


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
