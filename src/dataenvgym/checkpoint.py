"""Checkpoints: what a run folder keeps so that an episode survives a crash.

After every finished iteration the runner writes ``RUN/iteration_NNN/checkpoint/``::

    state.pkl       the environment's episode state, the agent, the RNG states, the runner's rows
    student/        the student's own checkpoint (``Student.save``)
    manifest.json   every file above with its size and SHA-256 (:mod:`dataenvgym.manifest`)

It is written into a staging folder and renamed into place; its manifest is written last,
after the rename, so a folder is a checkpoint only once it is whole and recorded. The newest
:data:`KEEP_CHECKPOINTS` checkpoints are kept (older ones are deleted once a new one landed),
so that one damaged checkpoint costs one iteration, not the run.

Resuming verifies the newest checkpoint against its manifest before anything runs; a damaged
one (a file missing, cut short or altered) is renamed aside (``checkpoint.damaged-N``) and
the next newest intact one is used (:func:`dataenvgym.resume.select_checkpoint`). A
checkpoint written before manifests were kept (format 1) has none: it is accepted with a
warning and verified by loading it, and if its student cannot be loaded it is set aside like
a damaged one.

Resuming rebuilds the environment from the run's ``config.yaml``, calls ``reset`` with the
run's seed (which rebuilds or loads the base student, the splits and the skills), then
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
from dataenvgym.manifest import ManifestMismatch, verify_manifest, write_manifest
from dataenvgym.numerics import describe, same_numerics

#: Bump when the layout of ``state.pkl`` changes. Format 2 checkpoints have a manifest;
#: format 1 ones were written before manifests were kept.
FORMAT_VERSION = 2
#: The formats this version resumes.
READABLE_FORMATS = (1, 2)
#: How many of the newest checkpoints a run folder keeps: the newest, and one to fall back
#: to should the newest be damaged.
KEEP_CHECKPOINTS = 2

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


class DamagedCheckpointError(CheckpointError):
    """A checkpoint's file is missing, cut short or altered: it cannot be resumed from,
    but an older intact checkpoint can.

    Attributes:
        checkpoint: The checkpoint folder.
        file: The damaged file, relative to ``checkpoint``.
        problem: What is wrong with it, in a few words.
    """

    def __init__(self, checkpoint: Path, file: str, problem: str) -> None:
        super().__init__(f"checkpoint {checkpoint} is damaged: {file} {problem}")
        self.checkpoint = checkpoint
        self.file = file
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across a numerics subprocess
        return (type(self), (self.checkpoint, self.file, self.problem))


class IncompleteCheckpointError(DamagedCheckpointError):
    """A checkpoint whose manifest never landed (its writing was interrupted): no checkpoint
    at all, so a resume looks past it even with ``--strict-resume``."""


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
    # Last: until the manifest exists this folder is no checkpoint, so the older ones stay.
    write_manifest(target)
    for older in range(checkpoint.iteration - KEEP_CHECKPOINTS + 1):
        stale = checkpoint_dir(run_dir, older)
        if stale.exists():
            shutil.rmtree(stale, ignore_errors=True)
    return target


def checkpoints(run_dir: Path) -> list[Path]:
    """Every checkpoint folder of a run, newest first (set-aside ones are not checkpoints)."""
    found = sorted(run_dir.glob(f"iteration_[0-9][0-9][0-9]/{_CHECKPOINT}"), reverse=True)
    return [path for path in found if path.is_dir()]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder of a run (intact or not), or ``None`` if none was written."""
    found = checkpoints(run_dir)
    return found[0] if found else None


_FIX = "resume with `dataenvgym run --resume` to fall back to the checkpoint before it"


def inspect_checkpoint(path: Path) -> tuple[EpisodeCheckpoint, bool]:
    """Verify ``path`` against its manifest and load its ``state.pkl``.

    Returns:
        The checkpoint, and whether a manifest vouched for it (False: a format 1 checkpoint,
        written before manifests were kept, checked only by loading it).

    Raises:
        DamagedCheckpointError: a file is missing, cut short or altered (another checkpoint
            may still be intact).
        CheckpointError: an intact checkpoint this version cannot continue.
    """
    try:
        verified = verify_manifest(path)
    except ManifestMismatch as err:
        raise DamagedCheckpointError(path, err.file, err.problem) from err
    state_file = path / "state.pkl"
    if not verified:
        for part, present in (
            ("state.pkl", state_file.is_file()),
            ("student/", (path / "student").is_dir()),
        ):
            if not present:
                raise DamagedCheckpointError(
                    path, part, "is missing (the checkpoint is incomplete)"
                )
    try:
        with state_file.open("rb") as handle:
            loaded = pickle.load(handle)
    except Exception as err:  # any unpickling failure means the same thing to the user
        if not verified:
            raise DamagedCheckpointError(
                path, "state.pkl", f"is corrupt ({type(err).__name__})"
            ) from err
        # The bytes are the ones written: this version cannot read what another wrote.
        raise CheckpointError(
            f"checkpoint {state_file} cannot be loaded ({type(err).__name__}: {err}); resume "
            "it with the dataenvgym version that wrote it, or rerun with --overwrite"
        ) from err
    if not isinstance(loaded, EpisodeCheckpoint):
        raise DamagedCheckpointError(path, "state.pkl", "is not a dataenvgym checkpoint")
    if loaded.format not in READABLE_FORMATS:
        raise CheckpointError(
            f"checkpoint {state_file} has format {loaded.format}, this version reads "
            f"{', '.join(map(str, READABLE_FORMATS))}; resume it with the dataenvgym version "
            "that wrote it"
        )
    if not verified and loaded.format >= 2:
        # Written by a version that keeps manifests, but the manifest never landed.
        raise IncompleteCheckpointError(
            path, "manifest.json", "is missing (the checkpoint was never completed)"
        )
    return loaded, verified


def read_checkpoint(path: Path) -> EpisodeCheckpoint:
    """Verify ``path`` (:func:`inspect_checkpoint`) and return its ``state.pkl``.

    Raises:
        CheckpointError: one line naming the file, the problem and the way out.
    """
    try:
        return inspect_checkpoint(path)[0]
    except DamagedCheckpointError as err:
        raise DamagedCheckpointError(err.checkpoint, err.file, f"{err.problem}; {_FIX}") from err


def newest_intact_checkpoint(run_dir: Path) -> tuple[Path, EpisodeCheckpoint] | None:
    """The newest checkpoint of a run that passes :func:`inspect_checkpoint`, read-only:
    damaged ones are skipped, not set aside."""
    for path in checkpoints(run_dir):
        try:
            return path, inspect_checkpoint(path)[0]
        except DamagedCheckpointError:
            continue
    return None


def restore(
    checkpoint: EpisodeCheckpoint,
    path: Path,
    env: TeacherEnv[Any, Any],
    agent: Agent,
    *,
    verified: bool = True,
) -> Agent:
    """Put a freshly reset ``env`` and ``agent`` back into ``checkpoint`` (read from ``path``
    by :func:`dataenvgym.resume.select_checkpoint`).

    ``env`` must have been reset with the run's seed; ``agent`` reset likewise. Returns the
    agent to continue with (the unpickled one, or ``agent`` replayed).

    Raises:
        DamagedCheckpointError: the student of an unverified (format 1) checkpoint cannot be
            loaded; nothing of the agent was touched yet.
        CheckpointError: the student of a verified checkpoint cannot be loaded (its files
            are the ones written, so this student cannot read them: not damage).
    """
    for key, value in checkpoint.env_state.items():
        setattr(env, key, value)
    try:
        env.student.load(path / "student")
    except Exception as err:  # any student's own loading error; say which folder failed
        problem = f"cannot be loaded ({type(err).__name__}: {_first_line(err)})"
        if not verified:
            raise DamagedCheckpointError(path, "student/", problem) from err
        raise CheckpointError(
            f"checkpoint {path / 'student'} {problem}; it matches its manifest, so the "
            "student settings or version differ from the writer's: resume with those"
        ) from err
    if checkpoint.agent is not None:
        agent = pickle.loads(checkpoint.agent)
    else:
        # Replay: the agent decides again on what it saw; its caches answer every call.
        for observation in checkpoint.observations:
            agent.act(observation)
    set_rng_states(checkpoint.rng)
    return agent


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else ""


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
    except (OSError, UnicodeDecodeError) as err:  # garbage bytes, unreadable file
        raise CheckpointError(
            f"{config_file} is unreadable ({_first_line(err) or type(err).__name__}); restore "
            "it from a copy of the run folder"
        ) from err
    summary_file = run_dir / "summary.json"
    if summary_file.exists():
        return config, read_summary(summary_file)
    intact = newest_intact_checkpoint(run_dir)
    if intact is not None:
        latest, checkpoint = intact
        saved = checkpoint.runner.get("config")
        if saved is not None and saved != config.model_dump(mode="json"):
            raise CheckpointError(
                f"{config_file} changed after checkpoint {latest} was written; put the "
                "original settings back, or start a new run with --overwrite"
            )
    return config, None


#: What a finished run's summary.json must hold for `run --resume` and boards to read it.
SUMMARY_KEYS = (
    "env",
    "domain",
    "agent",
    "seed",
    "initial",
    "final",
    "iterations",
    "total_training_data",
    "base_student_seconds",
    "wall_seconds",
)


def read_summary(summary_file: Path) -> dict[str, Any]:
    """A finished run's ``summary.json``, checked for the keys every reader needs.

    Raises:
        CheckpointError: one line naming the file and the way out.
    """
    fix = "delete it to resume the run from its last checkpoint (`dataenvgym run --resume`)"
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{summary_file} is unreadable ({_first_line(err)}); {fix}") from err
    if not isinstance(summary, dict):
        raise CheckpointError(f"{summary_file} is not a run summary; {fix}")
    missing = [key for key in SUMMARY_KEYS if key not in summary]
    parts_ok = all(
        isinstance(summary.get(part), dict)
        and "test_accuracy" in summary[part]
        and isinstance(summary[part].get("test_per_subskill"), dict)
        for part in ("initial", "final")
    )
    if missing or not parts_ok:
        what = f"lacks {', '.join(missing)}" if missing else "lacks its test scores"
        raise CheckpointError(f"{summary_file} {what}; {fix}")
    return summary
