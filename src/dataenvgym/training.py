"""Trainers: how the student learns from the data an episode accumulates.

``continue`` (the default) keeps training the current student on the new data mixed with
replay drawn *evenly across subskills* from the base student's own training data and earlier
iterations' data; the balanced replay keeps skills the teacher stops feeding from being
forgotten. ``retrain`` is the paper's default: restart from the base checkpoint and train on
everything so far, so every datum gets the same number of passes no matter when it was made.
It is the more faithful, slower choice.

How many optimiser steps a ``train`` call takes follows the data by default (see
:class:`TrainerConfig` and ``docs/training.md``)::

    steps = clamp(ceil(epochs * n / examples_per_step), min_steps, max_steps)

where ``n`` is what this call trains on (``continue``: new data + replay; ``retrain``: all
accumulated data) and ``examples_per_step`` is what one optimiser step of the student
consumes. A small budget therefore teaches for fewer steps instead of passing over the same
few examples dozens of times, which made the student forget what it knew. A fixed count,
``steps_per_iteration``, stays available as an explicit setting.

Fewer steps alone do not stop the damage: a few dozen passes over a few dozen examples still
pull a converged student towards them. So a call never trains on fewer than ``min_examples``
(the student's ``min_fit_examples``, 576 for the built-in text student: the default episode's
384 new + 192 replay, where nothing changes): what new data and replay leave short is topped
up with *rehearsal*, earlier data drawn at their own proportions. Rehearsal holds the student
where it is; it is not balanced across subskills, because balanced draws from the base
student's pretraining data teach its under-trained subskills by themselves, and a teacher's
data would no longer be what moves the student. ``base_rehearsal`` (off by default) adds the
base student's own data to *every* fit in proportion to its size, so what the base knew is
still rehearsed once an episode's data outgrow the floor.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dataenvgym.protocols import BaseStudent, Student
from dataenvgym.types import TrainingDatum, TrainStats, subskill_key

TrainerMode = Literal["continue", "retrain"]

#: Passes over the training set when neither the config nor the student says otherwise.
DEFAULT_EPOCHS = 16.0
#: Examples an optimiser step consumes for a student that does not say (capped by ``n``).
DEFAULT_EXAMPLES_PER_STEP = 64

#: Trainer settings that choose the number of steps; a user who gives one of them has chosen
#: how steps are counted, so a (student, domain) default of ``steps_per_iteration`` yields.
STEP_RULE_KEYS = frozenset({"steps_per_iteration", "epochs", "min_steps", "max_steps"})


@runtime_checkable
class SizedStepStudent(Protocol):
    """A student that says how many examples one optimiser step of ``fit`` consumes."""

    def examples_per_step(self, num_data: int) -> int:
        """Examples per optimiser step when fitting ``num_data`` examples."""
        ...


class TrainerConfig(BaseModel):
    """Settings shared by both trainers.

    By default the number of optimiser steps of each ``train`` call follows the data::

        steps = clamp(ceil(epochs * n / examples_per_step), min_steps, max_steps)

    with ``n`` the size of what the call trains on (``continue``: new data plus replay;
    ``retrain``: all data accumulated so far) and ``examples_per_step`` the student's batch
    (its ``examples_per_step(n)`` method; else ``min(64, n)``). ``epochs`` left unset takes the
    student's ``default_epochs`` (16 for the built-in students, 3 for Hugging Face students with
    LoRA), else 16. At the default arithmetic episode (budget 384, replay 0.5, batch 64) that is
    ``ceil(16 * 576 / 64) = 144`` steps per ``continue`` iteration.

    Setting ``steps_per_iteration`` instead fixes the count: that many steps per ``continue``
    call, that many times the iteration number per ``retrain`` call (so retraining on k
    iterations' data takes k times the steps).

    Attributes:
        mode: ``continue`` (default) or ``retrain`` (the paper's).
        steps_per_iteration: A fixed step count; ``None`` (default) follows the data.
        epochs: Passes over the training set (``None``: the student's default).
        min_steps: Fewest steps a call takes when following the data.
        max_steps: Most steps a call takes when following the data.
        replay_ratio: Replay data per new datum (``continue`` only).
        min_examples: Fewest examples a call trains on when it has new data; new data and
            replay short of it are topped up with rehearsal (``None``: the student's
            ``min_fit_examples``, else 0).
        base_rehearsal: Examples of the base student's own training data (drawn at its
            proportions) added per example a call trains on, before the floor's top-up:
            what the base student knew stays in every fit however much new data comes.
            0 (the default) adds none.
    """

    model_config = ConfigDict(extra="forbid")

    mode: TrainerMode = "continue"
    steps_per_iteration: int | None = Field(
        default=None,
        ge=0,
        description="Fixed optimiser steps per step() (retrain: times the iteration); "
        "None: follow the data (epochs, min_steps, max_steps).",
    )
    epochs: float | None = Field(
        default=None,
        gt=0,
        description="Passes over (new data + replay), or over all data when retraining; "
        "None: the student's default_epochs, else 16.",
    )
    min_steps: int = Field(default=10, ge=0, description="Fewest steps when following the data.")
    max_steps: int = Field(default=1000, ge=1, description="Most steps when following the data.")
    replay_ratio: float = Field(
        default=0.5, ge=0.0, description="Replay data per new datum (continue mode)."
    )
    min_examples: int | None = Field(
        default=None,
        ge=0,
        description="Fewest examples a call trains on; the shortfall is rehearsal of earlier "
        "data. None: the student's min_fit_examples, else 0.",
    )

    base_rehearsal: float = Field(
        default=0.0,
        ge=0.0,
        description="Base-student training data added per example of each fit (at its own "
        "proportions, before the floor's top-up); 0 adds none.",
    )

    @model_validator(mode="after")
    def _bounds_in_order(self) -> TrainerConfig:
        if self.min_steps > self.max_steps:
            raise ValueError(f"min_steps ({self.min_steps}) is above max_steps ({self.max_steps})")
        return self


def examples_per_step(student: Student, num_data: int) -> int:
    """What one optimiser step of ``student`` consumes when fitting ``num_data`` examples."""
    if isinstance(student, SizedStepStudent):
        return max(1, student.examples_per_step(num_data))
    return max(1, min(DEFAULT_EXAMPLES_PER_STEP, num_data))


def data_steps(config: TrainerConfig, student: Student, num_data: int) -> int:
    """Steps that give ``epochs`` passes over ``num_data`` examples, within the bounds."""
    if num_data <= 0:
        return 0
    epochs = config.epochs
    if epochs is None:
        epochs = float(getattr(student, "default_epochs", DEFAULT_EPOCHS))
    wanted = math.ceil(epochs * num_data / examples_per_step(student, num_data))
    return min(config.max_steps, max(config.min_steps, wanted))


def fit_floor(config: TrainerConfig, student: Student) -> int:
    """Fewest examples a call with new data trains on (``min_examples`` or the student's)."""
    if config.min_examples is not None:
        return config.min_examples
    return max(0, int(getattr(student, "min_fit_examples", 0)))


def rehearsal(
    pool: Sequence[TrainingDatum], have: int, floor: int, rng: random.Random
) -> list[TrainingDatum]:
    """Draws from ``pool`` at its own proportions that bring ``have`` examples up to ``floor``."""
    if not pool or have >= floor:
        return []
    return [rng.choice(pool) for _ in range(floor - have)]


def base_share(
    config: TrainerConfig, base: BaseStudent, have: int, rng: random.Random
) -> list[TrainingDatum]:
    """``config.base_rehearsal`` base-student examples per one of the ``have`` examples of a
    fit, drawn at the base training data's own proportions."""
    return rehearsal(base.training_data, 0, round(config.base_rehearsal * have), rng)


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
    """Train the current student on new data plus subskill-balanced replay.

    Attributes:
        planned_steps: Steps of the ``fit`` under way (or last run), for progress displays.
    """

    def __init__(self, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig()
        self.planned_steps = 0

    def steps_for(self, student: Student, num_data: int, iteration: int) -> int:
        """Steps of one call that trains on ``num_data`` examples (new + replay)."""
        if self.config.steps_per_iteration is not None:
            return self.config.steps_per_iteration
        return data_steps(self.config, student, num_data)

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
        data = [*new_data, *replay]
        if new_data:  # no new data: nothing to learn, the student stays as it is
            held = random.Random(f"rehearsal:{seed}:{iteration}")
            data += base_share(self.config, base, len(data), held)
            data += rehearsal(earlier, len(data), fit_floor(self.config, student), held)
        self.planned_steps = self.steps_for(student, len(data), iteration)
        return student.fit(data, steps=self.planned_steps, seed=seed + iteration)


class RetrainTrainer:
    """Restart from the base checkpoint and train on all data so far (the paper's default).

    Attributes:
        planned_steps: Steps of the ``fit`` under way (or last run), for progress displays.
    """

    def __init__(self, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig(mode="retrain")
        self.planned_steps = 0

    def steps_for(self, student: Student, num_data: int, iteration: int) -> int:
        """Steps of one call that retrains on ``num_data`` accumulated examples."""
        if self.config.steps_per_iteration is not None:
            return self.config.steps_per_iteration * max(iteration, 1)
        return data_steps(self.config, student, num_data)

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
        data = list(accumulated)
        if new_data:
            held = random.Random(f"rehearsal:{seed}:{iteration}")
            data += base_share(self.config, base, len(data), held)
            data += rehearsal(base.training_data, len(data), fit_floor(self.config, student), held)
        self.planned_steps = self.steps_for(student, len(data), iteration)
        return student.fit(data, steps=self.planned_steps, seed=seed + iteration)


def make_trainer(config: TrainerConfig) -> ContinueTrainer | RetrainTrainer:
    """The trainer for ``config.mode``."""
    return ContinueTrainer(config) if config.mode == "continue" else RetrainTrainer(config)


def with_step_defaults(
    defaults: Mapping[str, object], given: Mapping[str, object]
) -> dict[str, object]:
    """Trainer settings: ``given`` over ``defaults``, where a default fixed step count
    (``steps_per_iteration``) yields to any step rule the user gave (``epochs``, bounds)."""
    if STEP_RULE_KEYS & given.keys():
        defaults = {k: v for k, v in defaults.items() if k != "steps_per_iteration"}
    return {**defaults, **given}
