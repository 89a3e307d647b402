"""Choosing the checkpoint to resume from: the newest intact one, damaged ones set aside.

See :mod:`dataenvgym.checkpoint` for what a checkpoint holds and how it is verified, and
docs/resume.md for the user's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dataenvgym.checkpoint import (
    CheckpointError,
    DamagedCheckpointError,
    EpisodeCheckpoint,
    IncompleteCheckpointError,
    check_numerics,
    checkpoints,
    inspect_checkpoint,
)


def _short(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def set_aside(path: Path) -> Path:
    """Rename a damaged checkpoint folder to ``checkpoint.damaged-N`` beside it (kept, not
    deleted: the user may still recover something from it)."""
    number = 1
    while (target := path.with_name(f"{path.name}.damaged-{number}")).exists():
        number += 1
    path.rename(target)
    return target


@dataclass
class Selected:
    """What :func:`select_checkpoint` chose.

    Attributes:
        path: The checkpoint folder to resume from (``None``: none is intact; start afresh).
        checkpoint: Its loaded state.
        verified: Whether a manifest vouched for it (False: format 1, checked by loading).
        notes: One line per damaged checkpoint set aside, and for an unverified one.
    """

    path: Path | None
    checkpoint: EpisodeCheckpoint | None
    verified: bool = True
    notes: list[str] = field(default_factory=list)


def strict_refusal(err: DamagedCheckpointError) -> CheckpointError:
    """The one line ``--strict-resume`` stops with."""
    return CheckpointError(
        f"{err}; --strict-resume stops here and changes nothing: rerun without it to set "
        "that checkpoint aside and resume from the newest intact one"
    )


def no_fallback(err: DamagedCheckpointError) -> CheckpointError:
    """The one line a resume stops with when no intact checkpoint is left behind a damaged one."""
    return CheckpointError(
        f"{err}; no intact checkpoint is left to fall back to, nothing was changed: restore "
        "the run folder from a copy, or start the episode again with --overwrite"
    )


def select_checkpoint(run_dir: Path, *, strict: bool = False) -> Selected:
    """The newest intact checkpoint of ``run_dir``, damaged newer ones renamed aside.

    Read (and refused if of other numerics, :func:`check_numerics`) before the environment
    is reset, which can take minutes (a base student to pretrain). Incomplete checkpoints
    (:class:`IncompleteCheckpointError`) are no checkpoints: set aside, and with none left
    the episode starts afresh, as without a checkpoint.

    Args:
        run_dir: The run folder.
        strict: Refuse to fall back: a damaged newest checkpoint raises, nothing is renamed.

    Raises:
        CheckpointError: a damaged checkpoint with ``strict``, or with no intact one behind
            it (nothing renamed); an intact one this process cannot continue (another
            format, other numerics).
    """
    passed: list[DamagedCheckpointError] = []
    chosen: tuple[Path, EpisodeCheckpoint, bool] | None = None
    for path in checkpoints(run_dir):
        try:
            checkpoint, verified = inspect_checkpoint(path)
        except IncompleteCheckpointError as err:
            passed.append(err)
            continue
        except DamagedCheckpointError as err:
            if strict:
                raise strict_refusal(err) from err
            passed.append(err)
            continue
        check_numerics(checkpoint, path)
        chosen = path, checkpoint, verified
        break
    damaged = [err for err in passed if not isinstance(err, IncompleteCheckpointError)]
    if chosen is None and damaged:
        raise no_fallback(damaged[0])
    # Only now, with somewhere to go, is anything renamed.
    notes = [f"{err}; set aside as {_short(set_aside(err.checkpoint))}" for err in passed]
    if chosen is None:
        return Selected(None, None, True, notes)
    path, checkpoint, verified = chosen
    if not verified:
        notes.append(
            f"checkpoint {path} has no manifest (written before manifests were kept); "
            "it is checked by loading it"
        )
    return Selected(path, checkpoint, verified, notes)


def has_fallback(run_dir: Path, damaged: Path) -> bool:
    """Whether an intact checkpoint older than ``damaged`` exists (read-only)."""
    for path in checkpoints(run_dir):
        if path >= damaged:
            continue
        try:
            inspect_checkpoint(path)
        except DamagedCheckpointError:
            continue
        return True
    return False


def set_aside_note(err: DamagedCheckpointError) -> str:
    """Set aside the checkpoint of ``err`` (found damaged while restoring it); the line to show."""
    return f"{err}; set aside as {_short(set_aside(err.checkpoint))}"
