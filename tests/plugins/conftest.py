"""The plugin tests' own fixtures: ``broken_domains`` importable as a user's module would be."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def user_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """Put ``broken_domains`` on the path (and PYTHONPATH, for child processes)."""
    import os

    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return "broken_domains"
