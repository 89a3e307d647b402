"""Trainers: how the student learns from the data an episode accumulates.

``continue`` (the default) keeps training the current student on the new data mixed with
replay drawn *evenly across subskills* from the base student's own training data and earlier
iterations' data. It costs the same
number of steps every iteration, so an episode's time stays flat, and the balanced replay
keeps skills the teacher stops feeding from being forgotten within one iteration (measured; see
docs/when-state-pays.md). ``retrain`` is the paper's default: restart from the base checkpoint and
train on everything so far, with steps growing with the data, so every datum gets the same
number of passes no matter when it was made. It is the more faithful, slower choice.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from dataenvgym.protocols import BaseStudent, Student
from dataenvgym.types import TrainingDatum, TrainStats, subskill_key

TrainerMode = Literal["continue", "retrain"]


class TrainerConfig(BaseModel):
    """Settings shared by both trainers."""

    mode: TrainerMode = "continue"
    steps_per_iteration: int = Field(default=150, ge=0, description="Optimiser steps per step().")
    replay_ratio: float = Field(
        default=0.5, ge=0.0, description="Replay data per new datum (continue mode)."
    )


def balanced_sample(
    pool: Sequence[TrainingDatum], count: int, rng: random.Random
) -> list[TrainingDatum]:
    """Draw ``count`` data spread evenly over the subskills present in ``pool``."""
    groups: dict[str, list[TrainingDatum]] = defaultdict(list)
    for datum in pool:
        groups[subskill_key(datum.skill, datum.subskill)].append(datum)
    if not groups or count <= 0:
        return []
    keys = sorted(groups)
    return [rng.choice(groups[keys[i % len(keys)]]) for i in range(count)]


class ContinueTrainer:
    """Train the current student on new data plus subskill-balanced replay."""

    def __init__(self, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig()

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
        new_ids = {d.id for d in new_data}
        earlier = [*base.training_data, *(d for d in accumulated if d.id not in new_ids)]
        rng = random.Random(f"replay:{seed}:{iteration}")
        replay = balanced_sample(earlier, int(len(new_data) * self.config.replay_ratio), rng)
        return student.fit(
            [*new_data, *replay], steps=self.config.steps_per_iteration, seed=seed + iteration
        )


class RetrainTrainer:
    """Restart from the base checkpoint and train on all data so far (the paper's default)."""

    def __init__(self, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig(mode="retrain")

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
        student.load(base.checkpoint)
        steps = self.config.steps_per_iteration * max(iteration, 1)
        return student.fit(list(accumulated), steps=steps, seed=seed + iteration)


def make_trainer(config: TrainerConfig) -> ContinueTrainer | RetrainTrainer:
    """The trainer for ``config.mode``."""
    return ContinueTrainer(config) if config.mode == "continue" else RetrainTrainer(config)
