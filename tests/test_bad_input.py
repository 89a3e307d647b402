"""Bad input of every kind: one line naming the problem and the fix, exit code 2, no
traceback, and nothing that existed before is changed."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import dataenvgym.registry
from dataenvgym.agents.base import Agent
from dataenvgym.checkpoint import EpisodeCheckpoint
from dataenvgym.cli import app
from dataenvgym.manifest import write_manifest
from dataenvgym.numerics import describe
from dataenvgym.types import Action, Observation

runner = CliRunner()
TINY = {
    "iterations": 1,
    "budget": 20,
    "trainer": {"steps_per_iteration": 2},
    "student_config": {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 16},
    "pretrain": {"steps": 2, "examples": 100},
    "domain_config": {"val_per_subskill": 4, "test_per_subskill": 4},
}


def _yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def _config(tmp: Path, **changes: Any) -> str:
    return str(_yaml(tmp / "config.yaml", {**TINY, **changes}))


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _task_files(tmp: Path, val_rows: list[Any]) -> str:
    val = _jsonl(tmp / "val.jsonl", val_rows)
    test = _jsonl(tmp / "test.jsonl", [{"prompt": "2+2?", "answer": "4"}])
    return _config(tmp, domain="jsonl", domain_config={"validation": str(val), "test": str(test)})


def _run_folder(
    tmp: Path, *, config: Any = None, state: bytes | None = None, manifest: bool = False
) -> str:
    """A run folder with config.yaml and one checkpoint holding ``state`` (with ``manifest``,
    recorded as a finished checkpoint is)."""
    run = tmp / "run"
    checkpoint = run / "iteration_001" / "checkpoint"
    (checkpoint / "student").mkdir(parents=True)
    _yaml(run / "config.yaml", TINY if config is None else config)
    if state is not None:
        (checkpoint / "state.pkl").write_bytes(state)
    if manifest:
        write_manifest(checkpoint)
    return str(run)


def _foreign_folder(tmp: Path) -> str:
    (tmp / "photos").mkdir()
    (tmp / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    return str(tmp / "photos")


def _edited_since_checkpoint(tmp: Path) -> str:
    saved = EpisodeCheckpoint(
        iteration=1,
        env_state={},
        agent=None,
        observation=None,
        runner={"config": {**TINY, "seed": 5}},
    )
    return _run_folder(tmp, state=pickle.dumps(saved), manifest=True)


def _begun_with_other_numerics(tmp: Path) -> str:
    numerics = {**describe(), "cpu_capability": "AVX512-elsewhere"}
    saved = EpisodeCheckpoint(
        iteration=1, env_state={}, agent=None, observation=None, numerics=numerics
    )
    return _run_folder(tmp, state=pickle.dumps(saved), manifest=True)


def _existing_run(tmp: Path) -> str:
    (tmp / "old").mkdir()
    (tmp / "old" / "summary.json").write_text("{}")
    return str(tmp / "old")


Case = tuple[str, Callable[[Path], list[str]], str]

CASES: list[Case] = [
    # the config file
    ("malformed yaml", lambda t: ["run", "--config", str(_bad_yaml(t))], "not valid YAML at line"),
    ("yaml not a mapping", lambda t: ["run", "--config", str(_yaml(t / "c.yaml", [1]))], "mapping"),
    ("missing config", lambda t: ["run", "--config", str(t / "nope.yaml")], "does not exist"),
    ("unknown key", lambda t: ["run", "--config", _config(t, budgte=3)], "budgte"),
    ("bad value", lambda t: ["run", "--budget", "0"], "budget"),
    ("bad trainer", lambda t: ["run", "--config", _config(t, trainer={"mode": "x"})], "mode"),
    (
        "bad domain_config",
        lambda t: ["run", "--config", _config(t, domain_config={"val_per_subskill": "many"})],
        "invalid domain_config",
    ),
    # unknown names
    ("unknown env", lambda t: ["run", "--env", "nope"], "env: Input should be"),
    ("unknown domain", lambda t: ["run", "--domain", "poetry"], "unknown domain 'poetry'"),
    ("unknown agent", lambda t: ["run", "--agent", "delphi"], "unknown agent 'delphi'"),
    ("unknown student", lambda t: ["run", "--config", _config(t, student="huge")], "student"),
    # an invalid action
    (
        "invalid action",
        lambda t: ["run", "--config", _config(t), "--out", str(t / "r"), "--no-report"],
        "produced an invalid action",
    ),
    # run folders
    ("existing run folder", lambda t: ["run", "--out", _existing_run(t)], "already exists"),
    ("out is a file", lambda t: ["run", "--out", str(_yaml(t / "f", 1))], "is a file"),
    ("resume missing", lambda t: ["run", "--resume", str(t / "gone")], "does not exist"),
    ("resume foreign", lambda t: ["run", "--resume", _foreign_folder(t)], "no config.yaml"),
    (
        "resume foreign config",
        lambda t: ["run", "--resume", _run_folder(t, config={"photos": 3})],
        "not a resumable dataenvgym run folder",
    ),
    (
        "resume corrupt checkpoint",
        lambda t: ["run", "--resume", _run_folder(t, state=b"\x80\x04garbage")],
        "is corrupt",
    ),
    (
        "resume incomplete checkpoint",
        lambda t: ["run", "--resume", _run_folder(t, state=None)],
        "is incomplete",
    ),
    (
        "resume edited config",
        lambda t: ["run", "--resume", _edited_since_checkpoint(t)],
        "changed after checkpoint",
    ),
    (
        "resume with other numerics",
        lambda t: ["run", "--resume", _begun_with_other_numerics(t)],
        "was written computing with AVX512-elsewhere",
    ),
    (
        "resume with settings",
        lambda t: ["run", "--resume", _run_folder(t, state=None), "--seed", "3"],
        "drop --seed",
    ),
    # dataset files
    (
        "task file missing field",
        lambda t: ["run", "--config", _task_files(t, [{"prompt": "1+1?"}])],
        "line 1: missing field 'answer'",
    ),
    (
        "task file not json",
        lambda t: ["run", "--config", _task_files(t, ['{"prompt": "a", "answer": "b"}', "{oops"])],
        "line 2 is not JSON",
    ),
    (
        "task file unknown field",
        lambda t: ["run", "--config", _task_files(t, [{"prompt": "a", "answer": "b", "x": 1}])],
        "unknown fields ['x']",
    ),
]


def _bad_yaml(tmp: Path) -> Path:
    path = tmp / "broken.yaml"
    path.write_text("iterations: 3\ntrainer: {mode: [continue\n")
    return path


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class _RogueAgent(Agent):
    """Answers every observation with something that is not an action."""

    def act(self, observation: Observation) -> Action:
        return "write me some data"  # type: ignore[return-value]


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(
    name: str,
    args: Callable[[Path], list[str]],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a default run folder would land here, never in the repo
    if name == "invalid action":
        real = dataenvgym.registry.make_agent

        def rogue(*a: Any, **kw: Any) -> Agent:
            agent = real(*a, **kw)
            return _RogueAgent(policy=agent.policy, engine=agent.engine, name="rogue")

        monkeypatch.setattr(dataenvgym.registry, "make_agent", rogue)
    argv = args(tmp_path)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output)
    # Progress bars may have gone to stdout; the error is stderr's one and only line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    after = _snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before, "a file that existed was changed"
