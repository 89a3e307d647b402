"""How the oracle's look-ahead becomes the environment's step without training twice.

The oracle (:mod:`dataenvgym.agents.oracle`) trains copies of the student on candidate data
and submits the data of the best one. Training that data again in the environment's step
would repeat the chosen copy's training exactly (same trainer, student, data, replay,
iteration and seed), so the oracle wraps the environment's trainer in a
:class:`HandOverTrainer` that takes the trained copy's weights over instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dataenvgym.protocols import BaseStudent, Student, Trainer
from dataenvgym.types import TrainingDatum, TrainStats


class HoldsTrainedCopy(Protocol):
    """What :class:`HandOverTrainer` asks of the oracle."""

    def take_trained_copy(
        self, new_data: Sequence[TrainingDatum], iteration: int
    ) -> TrainedCopy | None:
        """The chosen copy if the step is about to train exactly its data (once)."""
        ...


@dataclass
class TrainedCopy:
    """The look-ahead's best copy of the student, trained on its candidate's data."""

    student: Student
    stats: TrainStats
    prompts: list[str]  # its data, in training order
    private_accuracy: float
    iteration: int  # the environment iteration whose step it is


class HandOverTrainer:
    """The environment's trainer while the oracle acts: a step that trains exactly the data
    of the oracle's chosen copy takes over that copy's weights instead of training again.

    The copy was trained by the same trainer from the same student with the same data,
    replay, iteration and seed, so the weights are the ones the step would produce; any
    other step (other data, a resumed episode) trains as usual.
    """

    def __init__(self, inner: Trainer, oracle: HoldsTrainedCopy) -> None:
        self.inner = inner
        self.oracle = oracle

    def train(
        self,
        student: Student,
        new_data: Sequence[TrainingDatum],
        accumulated: Sequence[TrainingDatum],
        *,
        base: BaseStudent,
        iteration: int,
        seed: int,
    ) -> TrainStats:
        trained = self.oracle.take_trained_copy(new_data, iteration)
        if trained is None:
            return self.inner.train(
                student, new_data, accumulated, base=base, iteration=iteration, seed=seed
            )
        # Through the student's own save/load: the only state transfer its protocol has.
        with tempfile.TemporaryDirectory(prefix="oracle-copy-") as folder:
            trained.student.save(Path(folder))
            student.load(Path(folder))
        return trained.stats
