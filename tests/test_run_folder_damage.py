"""Damaged files that other commands read: the LLM cache, a board's run folders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.errors import DataEnvGymError
from dataenvgym.llm.cache import CachedCompletion, LLMCache, LLMCacheError

runner = CliRunner()
ENTRY = CachedCompletion(
    text="answer " * 40, prompt_tokens=3, completion_tokens=40, finish_reason="stop", model="m"
)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(bytes((b + 101) % 256 for b in data))
    for side in path.parent.glob(f"{path.name}-*"):  # WAL and shared-memory files
        side.unlink()


def _one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("how", ["truncate", "garbage"])
def test_a_damaged_llm_cache_is_named(tmp_path: Path, how: str) -> None:
    path = tmp_path / "llm_cache.sqlite"
    with LLMCache(path) as cache:
        for i in range(40):
            cache.put(str(i), ENTRY, {"i": i})
    _damage(path, how)
    pattern = rf"LLM cache {re.escape(str(path))} cannot be read"
    with pytest.raises(LLMCacheError, match=pattern) as caught, LLMCache(path) as cache:
        [cache.get(str(i)) for i in range(40)]
    assert isinstance(caught.value, DataEnvGymError)  # the CLI's one line, exit 2


def test_resume_names_a_damaged_llm_cache(
    tmp_path: Path, tiny_student: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataenvgym.testing import TEST_KEY_ENV

    monkeypatch.setenv(TEST_KEY_ENV, "sk-test")
    run = tmp_path / "run"
    run.mkdir()
    settings = {
        "env": "skill-list",
        "iterations": 2,
        "budget": 20,
        "teacher": "openai:fake-model",
        "base_url": "http://127.0.0.1:9/v1",
        "student_config": tiny_student,
        "llm": {"api_key_env": TEST_KEY_ENV, "timeout_s": 1.0},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(settings))
    with LLMCache(run / "llm_cache.sqlite") as cache:
        cache.put("k", ENTRY, {})
    _damage(run / "llm_cache.sqlite", "garbage")
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 2
    assert f"LLM cache {run / 'llm_cache.sqlite'} cannot be read" in _one_error_line(result)


def _suite(tmp_path: Path, tiny_student: dict[str, Any]) -> Path:
    suite = {
        "name": "tiny",
        "domains": ["arithmetic"],
        "envs": ["skill-list"],
        "agents": ["no-state"],
        "base": {
            "iterations": 1,
            "budget": 30,
            "trainer": {"steps_per_iteration": 4},
            "student_config": tiny_student,
            "pretrain": {"steps": 10, "examples": 300},
            "domain_config": {"val_per_subskill": 5, "test_per_subskill": 5},
        },
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_a_board_from_finished_runs_names_a_damaged_run_file(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite, out = str(_suite(tmp_path, tiny_student)), tmp_path / "board"
    args = ["leaderboard", "--suite", suite, "--seeds", "0", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    (folder,) = [f for f in (out / "runs").iterdir() if "-no-state-" in f.name]
    summary = folder / "summary.json"
    text = summary.read_text()
    for broken in (text[: len(text) // 2], json.dumps({"env": "skill-list"})):
        summary.write_text(broken)
        board = runner.invoke(app, [*args, "--no-run"])
        assert board.exit_code == 2, board.output
        assert str(summary) in _one_error_line(board)
    summary.write_text(text)
    (folder / "config.yaml").write_bytes(b"\xff\xfe\x00garbage")
    board = runner.invoke(app, [*args, "--no-run"])
    assert board.exit_code == 2, board.output
    assert str(folder / "config.yaml") in _one_error_line(board)
