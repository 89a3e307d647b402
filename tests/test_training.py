from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.protocols import BaseStudent
from dataenvgym.training import ContinueTrainer, RetrainTrainer, TrainerConfig, balanced_sample
from dataenvgym.types import TrainingDatum, TrainStats


class RecordingStudent:
    """Records what each fit() saw and whether the base checkpoint was loaded."""

    def __init__(self) -> None:
        self.fits: list[tuple[list[TrainingDatum], int]] = []
        self.loaded: list[Path] = []

    def predict(self, instances: Any) -> list[str]:
        return ["" for _ in instances]

    def fit(self, data: Any, *, steps: int, seed: int) -> TrainStats:
        self.fits.append((list(data), steps))
        return TrainStats(steps=steps, examples_seen=0, final_loss=0.0, seconds=0.0)

    def save(self, directory: Path) -> None:
        return None

    def load(self, directory: Path) -> None:
        self.loaded.append(directory)


def _data(subskill: str, n: int, seed: int = 0) -> list[TrainingDatum]:
    return ArithmeticDomain().generate("addition", subskill, n, random.Random(seed))


def test_balanced_sample_spreads_over_subskills() -> None:
    pool = _data("carry", 90) + _data("no_carry", 10)
    sample = balanced_sample(pool, 40, random.Random(0))
    counts = {s: sum(d.subskill == s for d in sample) for s in ("carry", "no_carry")}
    assert counts == {"carry": 20, "no_carry": 20}


def test_continue_mixes_new_data_with_balanced_replay(tmp_path: Path) -> None:
    student = RecordingStudent()
    base = BaseStudent(student, tmp_path, training_data=_data("no_carry", 50, seed=1))
    earlier, new = _data("carry_chain", 30, seed=2), _data("carry", 20, seed=3)
    trainer = ContinueTrainer(TrainerConfig(steps_per_iteration=7, replay_ratio=1.0))
    trainer.train(student, new, earlier + new, base=base, iteration=2, seed=0)
    seen, steps = student.fits[0]
    assert steps == 7 and len(seen) == 40
    assert seen[:20] == new
    replay = seen[20:]
    assert {d.subskill for d in replay} == {"no_carry", "carry_chain"}
    assert not student.loaded


def test_retrain_restarts_from_base_on_everything(tmp_path: Path) -> None:
    student = RecordingStudent()
    base = BaseStudent(student, tmp_path / "base")
    everything = _data("carry", 30)
    RetrainTrainer(TrainerConfig(mode="retrain", steps_per_iteration=5)).train(
        student, everything[-10:], everything, base=base, iteration=3, seed=0
    )
    assert student.loaded == [tmp_path / "base"]
    assert student.fits[0] == (everything, 15)
