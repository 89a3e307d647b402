"""The command line sits on top: no module of the package imports it back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dataenvgym

PACKAGE = Path(dataenvgym.__file__).parent
#: The modules allowed to import the command line: itself, and a ``python -m`` entry.
TOP = {"cli.py", "__main__.py"}


def _imports_of_cli(source: str, module: str) -> list[int]:
    """Lines of ``source`` (the text of module ``module``) that import :mod:`dataenvgym.cli`,
    at any depth: a function-local import closes a cycle just as well, only later."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(
                a.name == "dataenvgym.cli" or a.name.startswith("dataenvgym.cli.")
                for a in node.names
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == "dataenvgym.cli" or (
                node.module == "dataenvgym" and any(a.name == "cli" for a in node.names)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # A relative import: resolve it against the file's package.
            parts = module.split(".")[: -node.level]
            target = ".".join([*parts, *(node.module.split(".") if node.module else [])])
            names = [a.name for a in node.names]
            if target == "dataenvgym.cli" or (target == "dataenvgym" and "cli" in names):
                lines.append(node.lineno)
    return lines


def test_nothing_below_the_command_line_imports_it() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE and path.name in TOP:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        # A package's __init__ keeps its last part, so that "." resolves to the package.
        module = ".".join(parts)
        lines = _imports_of_cli(path.read_text(), module)
        if lines:
            offenders[str(path.relative_to(PACKAGE))] = lines
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from dataenvgym.cli import execute_run\n",
        "def f():\n    import dataenvgym.cli\n",
        "def f():\n    from dataenvgym import cli\n",
        "def f():\n    from .. import cli\n",
        "def f():\n    from ..cli import app\n",
    ],
)
def test_the_checker_sees_every_way_of_importing_the_cli(source: str) -> None:
    assert _imports_of_cli(source, "dataenvgym.leaderboard.suite") == [2]
    assert _imports_of_cli("from dataenvgym.execute import execute_run\n", "dataenvgym.x") == []


def test_the_episode_runners_load_without_the_command_line() -> None:
    """Importing the grid, sweeps and boards (in a fresh interpreter) leaves the CLI
    unloaded: the cycle is gone, not merely deferred."""
    code = (
        "import sys, dataenvgym.sweep, dataenvgym.leaderboard.suite, dataenvgym.grid, "
        "dataenvgym.execute; print('dataenvgym.cli' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
