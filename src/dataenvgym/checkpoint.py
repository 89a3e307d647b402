"""Checkpoints: what a run folder keeps so that an episode survives a crash.

After every finished iteration the runner writes ``RUN/iteration_NNN/checkpoint/``::

    state.pkl     the environment's episode state, the agent, the RNG states, the runner's rows
    student/      the student's own checkpoint (``Student.save``)

It is written into a staging folder and renamed into place, so a checkpoint either exists
whole or not at all; the previous iteration's checkpoint is deleted only after the new one
landed. Resuming rebuilds the environment from the run's ``config.yaml``, calls ``reset`` with
the run's seed (which rebuilds or loads the base student, the splits and the skills), then
overwrites the episode state with the checkpoint's. The environment and the agent are plain
Python objects, so they are pickled generically: no per-environment or per-policy code.

An agent that cannot be pickled (one holding an LLM client, say) is rebuilt from the config
instead and replayed over the observations it saw; with its LLM cache in the run folder the
replay is answered from the cache and makes no calls.

Checkpoints are pickles: resume only run folders you wrote yourself.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataenvgym.agents.base import Agent
from dataenvgym.config import RunConfig, load_config
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.numerics import describe, same_numerics

#: Bump when the layout of ``state.pkl`` changes.
FORMAT_VERSION = 1

#: Environment attributes rebuilt from the config (components) or saved separately (the
#: student); everything else an environment holds is episode state and is pickled.
#: An environment class may name more in a ``checkpoint_exclude`` class attribute.
REBUILT_ATTRIBUTES = frozenset(
    {
        "domain",
        "student_factory",
        "trainer",
        "evaluator",
        "skill_discovery",
        "config",
        "render_mode",
        "action_space",
        "observation_space",
        "spec",
        "base",
        "_student",
    }
)

_CHECKPOINT = "checkpoint"
_STAGING_PREFIX = ".checkpoint-staging-"


class CheckpointError(DataEnvGymError):
    """A run folder's checkpoint is missing, corrupt or from an incompatible version."""


@dataclass
class EpisodeCheckpoint:
    """Everything needed to continue an episode after iteration ``iteration``.

    Attributes:
        iteration: The last finished iteration.
        env_state: The environment's episode attributes (see :data:`REBUILT_ATTRIBUTES`).
        agent: The pickled agent, or ``None`` when it must be rebuilt and replayed.
        observation: The observation the agent sees next.
        observations: Every observation the agent has seen (kept only for replays).
        rng: Global Python, NumPy and torch RNG states.
        runner: The runner's own bookkeeping (rows, initial scores, elapsed time).
        format: :data:`FORMAT_VERSION` of the writer.
        numerics: What the writer computed with (:func:`dataenvgym.numerics.describe`):
            an episode continued with other numerics would be no episode of either.
    """

    iteration: int
    env_state: dict[str, Any]
    agent: bytes | None
    observation: Any
    observations: list[Any] = field(default_factory=list)
    rng: dict[str, Any] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    numerics: dict[str, str] = field(default_factory=dict)


def rng_states() -> dict[str, Any]:
    """The global RNG states a training loop may draw from."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore states returned by :func:`rng_states`."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


def env_state(env: TeacherEnv[Any, Any]) -> dict[str, Any]:
    """The episode attributes of ``env``: everything that ``reset`` and ``step`` changed."""
    excluded = REBUILT_ATTRIBUTES | frozenset(getattr(env, "checkpoint_exclude", ()))
    return {key: value for key, value in vars(env).items() if key not in excluded}


def pickle_agent(agent: Agent) -> bytes | None:
    """The agent as bytes, or ``None`` if it holds something unpicklable (a client, a lock)."""
    try:
        return pickle.dumps(agent, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def checkpoint_dir(run_dir: Path, iteration: int) -> Path:
    """Where the checkpoint of ``iteration`` lives."""
    return run_dir / f"iteration_{iteration:03d}" / _CHECKPOINT


def save_checkpoint(
    run_dir: Path,
    env: TeacherEnv[Any, Any],
    agent: Agent,
    seen: list[Any],
    runner: dict[str, Any],
) -> Path:
    """Checkpoint the episode after ``env.iteration``; drop the previous iteration's.

    Args:
        run_dir: The run folder.
        env: The environment (unwrapped) right after its step.
        agent: The agent after that step's ``act``.
        seen: Every observation of the episode so far, the next one last.
        runner: The runner's bookkeeping, returned as ``EpisodeCheckpoint.runner``.

    Returns:
        The checkpoint folder.
    """
    agent_bytes = pickle_agent(agent)
    checkpoint = EpisodeCheckpoint(
        iteration=env.iteration,
        env_state=env_state(env),
        agent=agent_bytes,
        observation=seen[-1],
        # An unpicklable agent is replayed: act() on each observation but the next one.
        observations=list(seen[:-1]) if agent_bytes is None else [],
        rng=rng_states(),
        runner=runner,
        numerics=describe(),
    )
    target = checkpoint_dir(run_dir, checkpoint.iteration)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=_STAGING_PREFIX))
    env.student.save(staging / "student")
    with (staging / "state.pkl").open("wb") as handle:
        pickle.dump(checkpoint, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    if target.exists():  # a redone iteration: the old copy is as good, replace it
        shutil.rmtree(target)
    os.replace(staging, target)
    for older in range(checkpoint.iteration):
        stale = checkpoint_dir(run_dir, older)
        if stale.exists():
            shutil.rmtree(stale, ignore_errors=True)
    return target


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or ``None`` if none was written."""
    found = sorted(run_dir.glob(f"iteration_[0-9][0-9][0-9]/{_CHECKPOINT}"))
    return found[-1] if found else None


def read_checkpoint(path: Path) -> EpisodeCheckpoint:
    """Load ``path/state.pkl``.

    Raises:
        CheckpointError: one line naming the file, the problem and the way out.
    """
    state_file = path / "state.pkl"
    fix = "delete that checkpoint folder to resume from the one before, or rerun with --overwrite"
    if not state_file.is_file() or not (path / "student").is_dir():
        raise CheckpointError(f"checkpoint {path} is incomplete; {fix}")
    try:
        with state_file.open("rb") as handle:
            loaded = pickle.load(handle)
    except Exception as err:  # any unpickling failure means the same thing to the user
        raise CheckpointError(
            f"checkpoint {state_file} is corrupt ({type(err).__name__}); {fix}"
        ) from err
    if not isinstance(loaded, EpisodeCheckpoint):
        raise CheckpointError(f"{state_file} is not a dataenvgym checkpoint; {fix}")
    if loaded.format != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {state_file} has format {loaded.format}, this version reads "
            f"{FORMAT_VERSION}; resume it with the dataenvgym version that wrote it"
        )
    return loaded


def read_resumable(path: Path) -> EpisodeCheckpoint:
    """:func:`read_checkpoint`, refused (:func:`check_numerics`) when it was written with
    other numerics than this process computes with; read it before the environment is reset,
    which can take minutes (a base student to pretrain).

    Raises:
        CheckpointError: as :func:`read_checkpoint` and :func:`check_numerics`.
    """
    checkpoint = read_checkpoint(path)
    check_numerics(checkpoint, path)
    return checkpoint


def restore(
    checkpoint: EpisodeCheckpoint, path: Path, env: TeacherEnv[Any, Any], agent: Agent
) -> Agent:
    """Put a freshly reset ``env`` and ``agent`` back into ``checkpoint`` (read from ``path``
    by :func:`read_resumable`).

    ``env`` must have been reset with the run's seed; ``agent`` reset likewise. Returns the
    agent to continue with (the unpickled one, or ``agent`` replayed).
    """
    for key, value in checkpoint.env_state.items():
        setattr(env, key, value)
    env.student.load(path / "student")
    if checkpoint.agent is not None:
        agent = pickle.loads(checkpoint.agent)
    else:
        # Replay: the agent decides again on what it saw; its caches answer every call.
        for observation in checkpoint.observations:
            agent.act(observation)
    set_rng_states(checkpoint.rng)
    return agent


def checkpoint_numerics(checkpoint: EpisodeCheckpoint) -> dict[str, str]:
    """What the checkpoint's writer computed with (empty: written before they were kept)."""
    # A checkpoint pickled before the field existed has no such attribute.
    return getattr(checkpoint, "numerics", None) or {}


def check_numerics(checkpoint: EpisodeCheckpoint, path: Path) -> None:
    """Refuse to continue an episode with other numerics than it started with.

    The same seed trained with another instruction set rounds differently (numerics.py), so
    the iterations after the checkpoint would belong to another episode than those before it,
    and the summary would claim numerics that only half of it ran with.

    Raises:
        CheckpointError: one line naming both numerics and the ways out.
    """
    written, here = checkpoint_numerics(checkpoint), describe()
    if same_numerics(written, here):
        return
    started = "portable" if written.get("caps") else "native"
    raise CheckpointError(
        f"checkpoint {path} was written computing with {_numerics_text(written)}, this "
        f"process computes with {_numerics_text(here)}; resume it with the numerics it "
        f"started with (`--resume ... --numerics {started}`"
        + (", on a machine with those kernels" if started == "native" else "")
        + "), or rerun it with --overwrite"
    )


def _numerics_text(numerics: dict[str, str]) -> str:
    return f"{numerics.get('cpu_capability', '?')} (torch {numerics.get('torch', '?')})"


def remove_staging(run_dir: Path) -> None:
    """Delete half-written checkpoints left by a crash."""
    for staging in run_dir.glob(f"iteration_[0-9][0-9][0-9]/{_STAGING_PREFIX}*"):
        shutil.rmtree(staging, ignore_errors=True)


def read_run_folder(run_dir: Path) -> tuple[RunConfig, dict[str, Any] | None]:
    """Check that ``run_dir`` can be resumed, before anything runs or is written.

    Returns:
        The run's config, and its summary if the run already finished (else ``None``).

    Raises:
        CheckpointError: a missing, foreign or corrupt run folder, in one line with the fix.
    """
    if not run_dir.is_dir():
        what = "is a file" if run_dir.exists() else "does not exist"
        raise CheckpointError(
            f"run folder {run_dir} {what}; start a run with `dataenvgym run --out DIR`"
        )
    config_file = run_dir / "config.yaml"
    if not config_file.is_file():
        raise CheckpointError(
            f"{run_dir} is not a dataenvgym run folder (no config.yaml); "
            "pass a folder that `dataenvgym run` wrote"
        )
    try:
        config = load_config(config_file)
    except ConfigError as err:
        raise CheckpointError(f"{run_dir} is not a resumable dataenvgym run folder: {err}") from err
    summary_file = run_dir / "summary.json"
    if summary_file.is_file():
        try:
            summary = json.loads(summary_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointError(
                f"{summary_file} is corrupt; delete it to resume from the last checkpoint"
            ) from err
        if not isinstance(summary, dict):
            raise CheckpointError(f"{summary_file} is not a run summary; delete it to resume")
        return config, summary
    latest = latest_checkpoint(run_dir)
    if latest is not None:
        saved = read_checkpoint(latest).runner.get("config")
        if saved is not None and saved != config.model_dump(mode="json"):
            raise CheckpointError(
                f"{config_file} changed after checkpoint {latest} was written; put the "
                "original settings back, or start a new run with --overwrite"
            )
    return config, None
