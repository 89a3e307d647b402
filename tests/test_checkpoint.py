"""Resume after a crash: the resumed episode's summary equals an uninterrupted one's."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataenvgym.agents.base import Agent
from dataenvgym.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    read_checkpoint,
    read_run_folder,
)
from dataenvgym.manifest import write_manifest
from dataenvgym.numerics import describe
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import EpisodeHooks, run_episode
from dataenvgym.types import Action, Observation

WALL_TIME_FIELDS = ("wall_seconds", "base_student_seconds")


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without its wall-time fields (which differ between any two runs)."""
    out = {k: v for k, v in summary.items() if k not in WALL_TIME_FIELDS}
    out["iterations"] = [
        {k: v for k, v in row.items() if k != "train_seconds"} for row in summary["iterations"]
    ]
    return out


class Crash(Exception):
    """Stands in for a process dying between two iterations."""


def _episode(
    kwargs: dict[str, Any],
    out: Path,
    *,
    crash_at: int | None = None,
    resume: bool = False,
    agent: Agent | None = None,
) -> dict[str, Any]:
    env = make_env(**kwargs)
    agent = agent or make_agent("with-state", kwargs["env"], env.domain)

    def start(iteration: int) -> None:
        if iteration == crash_at:
            raise Crash

    return run_episode(
        env,
        agent,
        seed=3,
        out_dir=out,
        config={"tiny": True},
        hooks=EpisodeHooks(on_iteration_start=start),
        resume=resume,
    )


@pytest.mark.parametrize("env_name", ["open-ended", "skill-list", "skill-tree"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(
    env_name: str, tiny_kwargs: Any, tmp_path: Path
) -> None:
    kwargs = tiny_kwargs(env_name, env_config={"budget_per_iteration": 40, "max_iterations": 3})
    reference = _episode(kwargs, tmp_path / "reference")
    with pytest.raises(Crash):
        _episode(kwargs, tmp_path / "crashed", crash_at=3)
    assert latest_checkpoint(tmp_path / "crashed") == (
        tmp_path / "crashed" / "iteration_002" / "checkpoint"
    )
    resumed = _episode(kwargs, tmp_path / "crashed", resume=True)
    assert comparable(resumed) == comparable(reference)
    for iteration in (1, 2, 3):
        name = f"iteration_{iteration:03d}/data.jsonl"
        assert (tmp_path / "crashed" / name).read_text() == (
            tmp_path / "reference" / name
        ).read_text()
    # The two newest checkpoints are kept (the one before is the fallback of a damaged one).
    kept = sorted(p.parent.name for p in (tmp_path / "crashed").glob("iteration_*/checkpoint"))
    assert kept == ["iteration_002", "iteration_003"]
    events = [json.loads(line)["event"] for line in (tmp_path / "crashed" / "events.jsonl").open()]
    assert events == ["reset", "step", "step", "resume", "step", "end"]


class _UnpicklableAgent(Agent):
    """An agent holding a lock (as an LLM client does): it cannot be pickled, so it is replayed."""

    def __init__(self, inner: Agent) -> None:
        super().__init__(
            policy=inner.policy, engine=inner.engine, name=inner.name, revision=inner.revision
        )
        self.lock = threading.Lock()
        self.calls = 0

    def act(self, observation: Observation) -> Action:
        self.calls += 1
        return super().act(observation)


def test_an_unpicklable_agent_is_replayed_over_what_it_saw(
    tiny_kwargs: Any, tmp_path: Path
) -> None:
    kwargs = tiny_kwargs("skill-tree", env_config={"budget_per_iteration": 40, "max_iterations": 3})
    reference = _episode(kwargs, tmp_path / "reference")

    def agent() -> _UnpicklableAgent:
        return _UnpicklableAgent(make_agent("with-state", "skill-tree", make_env(**kwargs).domain))

    with pytest.raises(Crash):
        _episode(kwargs, tmp_path / "crashed", crash_at=3, agent=agent())
    saved = latest_checkpoint(tmp_path / "crashed")
    assert saved is not None
    checkpoint = read_checkpoint(saved)
    assert checkpoint.agent is None and len(checkpoint.observations) == 2
    replayed = agent()
    resumed = _episode(kwargs, tmp_path / "crashed", resume=True, agent=replayed)
    assert replayed.calls == 3  # two replayed decisions, one new
    assert comparable(resumed) == comparable(reference)


def test_resume_without_a_checkpoint_starts_afresh(tiny_kwargs: Any, tmp_path: Path) -> None:
    kwargs = tiny_kwargs("skill-list")
    reference = _episode(kwargs, tmp_path / "reference")
    with pytest.raises(Crash):
        _episode(kwargs, tmp_path / "crashed", crash_at=1)
    assert latest_checkpoint(tmp_path / "crashed") is None
    resumed = _episode(kwargs, tmp_path / "crashed", resume=True)
    assert comparable(resumed) == comparable(reference)


def _rewrite_checkpoint(saved: Path, **changes: Any) -> None:
    """Change fields of the checkpoint pickled in ``saved`` (as another writer made it)."""
    checkpoint = read_checkpoint(saved)
    for name, value in changes.items():
        if value is None:
            delattr(checkpoint, name)
        else:
            setattr(checkpoint, name, value)
    (saved / "state.pkl").write_bytes(pickle.dumps(checkpoint))
    write_manifest(saved)  # as that writer would have recorded it


def test_a_checkpoint_of_other_numerics_is_not_continued(tiny_kwargs: Any, tmp_path: Path) -> None:
    kwargs = tiny_kwargs("skill-list", env_config={"budget_per_iteration": 40, "max_iterations": 3})
    reference = _episode(kwargs, tmp_path / "reference")
    with pytest.raises(Crash):
        _episode(kwargs, tmp_path / "crashed", crash_at=3)
    saved = latest_checkpoint(tmp_path / "crashed")
    assert saved is not None
    here = read_checkpoint(saved).numerics
    assert here == describe()  # the writer's numerics are kept
    # The same checkpoint as a machine computing with AVX-512 would have written it.
    _rewrite_checkpoint(saved, numerics={**here, "cpu_capability": "AVX512"})
    with pytest.raises(CheckpointError, match=r"AVX512 \(torch .*this process computes with"):
        _episode(kwargs, tmp_path / "crashed", resume=True)
    assert not (tmp_path / "crashed" / "summary.json").exists()
    assert latest_checkpoint(tmp_path / "crashed") == saved  # nothing lost
    # A checkpoint from before numerics were kept cannot be told apart: it is continued.
    _rewrite_checkpoint(saved, numerics=None)
    resumed = _episode(kwargs, tmp_path / "crashed", resume=True)
    assert comparable(resumed) == comparable(reference)


def test_corrupt_or_edited_run_folders_are_refused(tiny_kwargs: Any, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "iteration_001" / "checkpoint" / "student").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"seed": 1}))
    (run / "iteration_001" / "checkpoint" / "state.pkl").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match=r"state\.pkl is corrupt.*fall back"):
        read_checkpoint(run / "iteration_001" / "checkpoint")
    # Read-only, a run folder's reader looks past a damaged checkpoint (resume sets it aside).
    assert read_run_folder(run)[1] is None
    (run / "config.yaml").unlink()
    with pytest.raises(CheckpointError, match=r"no config\.yaml"):
        read_run_folder(run)


# --------------------------------------------------------------------------- SIGKILL

_CLI = [sys.executable, "-c", "from dataenvgym.cli import app; app()"]


def _cli(args: list[str], *, kill_at: tuple[Path, float] | None = None) -> bool:
    """Run the CLI; with ``kill_at=(path, delay)``, SIGKILL it ``delay`` seconds after
    ``path`` appears. Returns True if it finished (with exit code 0), False if killed."""
    proc = subprocess.Popen([*_CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_at is not None:
        path, delay = kill_at
        while proc.poll() is None and not path.exists():
            time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return False
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    return True


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tiny_student: dict[str, Any], tmp_path: Path) -> None:
    iterations = 4
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "env": "skill-tree",
                "iterations": iterations,
                "budget": 40,
                "trainer": {"steps_per_iteration": 6},
                "student_config": tiny_student,
                "pretrain": {"steps": 10, "examples": 300},
                "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
            }
        )
    )
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert _cli(["run", "--config", str(config), "--out", str(reference), "--no-report"])
    # Random points: a random moment (0-0.6 s) after a random iteration's folder appears, so
    # kills land in training, evaluation and the writing of files and checkpoints alike.
    rng = random.Random(9)
    kills = 0
    for attempt in range(12):
        if (run / "config.yaml").exists():
            args = ["run", "--resume", str(run), "--no-report"]
        else:  # killed before the folder was written: nothing to resume, start again
            args = ["run", "--config", str(config), "--out", str(run), "--overwrite", "--no-report"]
        target = run / f"iteration_{rng.randrange(iterations):03d}"
        kill_at = (target, rng.uniform(0.0, 0.6)) if attempt < 6 else None
        if _cli(args, kill_at=kill_at):
            break
        kills += 1
    assert kills >= 2, "the episode was never interrupted; the test proved nothing"
    expected = json.loads((reference / "summary.json").read_text())
    actual = json.loads((run / "summary.json").read_text())
    assert comparable(actual) == comparable(expected)
    for path in sorted(reference.glob("iteration_*/data.jsonl")):
        assert (run / path.relative_to(reference)).read_text() == path.read_text()


# --------------------------------------------------------------------------- LLM teacher


@pytest.mark.slow
def test_a_resumed_llm_run_makes_no_call_twice(
    tiny_student: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LLM agent cannot be pickled: resuming replays it from the run folder's cache."""
    from typer.testing import CliRunner

    import dataenvgym.runner
    from dataenvgym.cli import app
    from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, ScriptedTeacher

    monkeypatch.setenv(TEST_KEY_ENV, "sk-test")
    config = tmp_path / "llm.yaml"
    settings = {
        "env": "skill-list",
        "iterations": 3,
        "budget": 24,
        "teacher": "openai:fake-model",
        "trainer": {"steps_per_iteration": 4},
        "student_config": tiny_student,
        "pretrain": {"steps": 6, "examples": 200},
        "domain_config": {"val_per_subskill": 5, "test_per_subskill": 5},
        "llm": {"api_key_env": TEST_KEY_ENV, "timeout_s": 5.0},
    }
    cli = CliRunner()
    with FakeOpenAIServer(ScriptedTeacher()) as server:
        config.write_text(yaml.safe_dump({**settings, "base_url": server.base_url}))
        args = ["run", "--config", str(config), "--no-report", "--out"]
        assert cli.invoke(app, [*args, str(tmp_path / "reference")]).exit_code == 0
        reference_calls = server.calls
        assert reference_calls > 0
        server.reset_counts()

        real_save = dataenvgym.runner.save_checkpoint

        def save_then_die(run_dir: Path, env: Any, *rest: Any) -> Path:
            path = real_save(run_dir, env, *rest)
            if env.iteration == 2:
                raise Crash
            return path

        monkeypatch.setattr(dataenvgym.runner, "save_checkpoint", save_then_die)
        crashed = cli.invoke(app, [*args, str(tmp_path / "run")])
        assert isinstance(crashed.exception, Crash)
        monkeypatch.setattr(dataenvgym.runner, "save_checkpoint", real_save)
        saved = latest_checkpoint(tmp_path / "run")
        assert saved is not None and read_checkpoint(saved).agent is None  # replayed
        resumed = cli.invoke(app, ["run", "--resume", str(tmp_path / "run"), "--no-report"])
        assert resumed.exit_code == 0, resumed.output
        assert server.calls == reference_calls  # the replayed iterations came from the cache
    expected = json.loads((tmp_path / "reference" / "summary.json").read_text())
    actual = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert comparable(actual) == comparable(expected)
