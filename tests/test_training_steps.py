"""The default step rule: epochs over the data, bounded; a fixed count when asked."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dataenvgym.config import RunConfig
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import BaseStudent
from dataenvgym.registry import make_agent, make_env
from dataenvgym.students.hf.config import HFStudentConfig
from dataenvgym.students.hf.student import HFStudent
from dataenvgym.students.tiny import TinyStudent, TinyStudentConfig
from dataenvgym.training import (
    ContinueTrainer,
    RetrainTrainer,
    TrainerConfig,
    data_steps,
    examples_per_step,
    with_step_defaults,
)
from dataenvgym.types import TrainingDatum, TrainStats


class CountingStudent:
    """Records the steps of each fit(); says nothing about its batch or epochs."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.sizes: list[int] = []

    def predict(self, instances: Any) -> list[str]:
        return ["" for _ in instances]

    def fit(self, data: Any, *, steps: int, seed: int) -> TrainStats:
        self.steps.append(steps)
        self.sizes.append(len(data))
        return TrainStats(steps=steps, examples_seen=0, final_loss=0.0, seconds=0.0)

    def save(self, directory: Path) -> None:
        return None

    def load(self, directory: Path) -> None:
        return None


class SizedStudent(CountingStudent):
    default_epochs = 2.0

    def examples_per_step(self, num_data: int) -> int:
        return min(10, num_data)


def _data(n: int, seed: int = 0) -> list[TrainingDatum]:
    return ArithmeticDomain().generate("addition", "carry", n, random.Random(seed))


def test_steps_follow_the_data_within_the_bounds() -> None:
    config = TrainerConfig(epochs=4, min_steps=5, max_steps=100)
    student = CountingStudent()  # no batch size: min(64, n) examples a step
    assert data_steps(config, student, 640) == 40  # 4 * 640 / 64
    assert data_steps(config, student, 20) == 5  # 4 passes at batch 20 = 4 steps -> min
    assert data_steps(config, student, 64_000) == 100  # 4000 -> max
    assert data_steps(config, student, 0) == 0
    # A student that says its batch and its own default epochs is taken at its word.
    sized = SizedStudent()
    assert examples_per_step(sized, 1000) == 10
    assert data_steps(TrainerConfig(min_steps=0), sized, 55) == 11  # ceil(2 * 55 / 10)


def test_a_smaller_budget_trains_fewer_steps_in_continue_mode(tmp_path: Path) -> None:
    base = BaseStudent(CountingStudent(), tmp_path, training_data=_data(500, seed=1))
    trainer = ContinueTrainer()
    student = CountingStudent()
    for budget in (32, 128, 384, 1024):
        new = _data(budget, seed=budget)
        trainer.train(student, new, new, base=base, iteration=1, seed=0)
    # 16 epochs over new + half as much replay, batch min(64, n), at least 10 steps.
    assert student.sizes == [48, 192, 576, 1536]
    assert student.steps == [16, 48, 144, 384]
    assert trainer.planned_steps == 384


class FlooredStudent(CountingStudent):
    """Says the fewest examples a fit should see, as the built-in text student does."""

    min_fit_examples = 200

    def __init__(self) -> None:
        super().__init__()
        self.fitted: list[list[TrainingDatum]] = []

    def fit(self, data: Any, *, steps: int, seed: int) -> TrainStats:
        self.fitted.append(list(data))
        return super().fit(data, steps=steps, seed=seed)


def test_a_small_fit_is_topped_up_with_rehearsal_at_the_pools_own_proportions(
    tmp_path: Path,
) -> None:
    # A pool of 90 % carry, 10 % no-carry: rehearsal keeps that mix (balanced replay would not).
    domain = ArithmeticDomain()
    pool = [*_data(450, seed=1), *domain.generate("addition", "no_carry", 50, random.Random(2))]
    base = BaseStudent(CountingStudent(), tmp_path, training_data=pool)
    student = FlooredStudent()
    new = _data(20, seed=3)
    ContinueTrainer().train(student, new, new, base=base, iteration=1, seed=0)
    fitted = student.fitted[0]
    assert len(fitted) == 200  # 20 new + 10 replay + 170 rehearsal
    assert fitted[:20] == new
    rehearsed = fitted[30:]
    share = sum(d.subskill == "no_carry" for d in rehearsed) / len(rehearsed)
    assert share < 0.25  # about 0.1; a balanced draw would give about 0.5


def test_the_floor_leaves_large_fits_and_empty_steps_alone(tmp_path: Path) -> None:
    base = BaseStudent(CountingStudent(), tmp_path, training_data=_data(500, seed=1))
    student = FlooredStudent()
    trainer = ContinueTrainer()
    trainer.train(student, _data(384, seed=4), [], base=base, iteration=1, seed=0)
    trainer.train(student, [], [], base=base, iteration=2, seed=0)  # the teacher gave nothing
    assert student.sizes == [576, 0]  # 384 + 192 replay, above the floor; nothing to learn
    # A setting of the trainer overrides the student's floor, in both modes.
    zero = TrainerConfig(min_examples=0)
    ContinueTrainer(zero).train(student, _data(10), _data(10), base=base, iteration=1, seed=0)
    retrain = TrainerConfig(mode="retrain", min_examples=300)
    RetrainTrainer(retrain).train(student, _data(10), _data(10), base=base, iteration=1, seed=0)
    assert student.sizes[2:] == [15, 300]


def test_the_built_in_text_student_has_a_floor_that_leaves_the_default_episode_alone() -> None:
    # The default episode fits 384 new + 192 replay: exactly the floor, so no rehearsal.
    assert TinyStudent.min_fit_examples == 576


def test_retrain_follows_all_accumulated_data(tmp_path: Path) -> None:
    base = BaseStudent(CountingStudent(), tmp_path)
    student = CountingStudent()
    trainer = RetrainTrainer(TrainerConfig(mode="retrain", epochs=2, min_steps=1))
    everything = _data(640)
    trainer.train(student, everything[-320:], everything[:320], base=base, iteration=1, seed=0)
    trainer.train(student, everything[-320:], everything, base=base, iteration=2, seed=0)
    assert student.steps == [10, 20]  # 2 * 320 / 64, then 2 * 640 / 64


def test_a_fixed_step_count_is_still_an_explicit_setting(tmp_path: Path) -> None:
    base = BaseStudent(CountingStudent(), tmp_path, training_data=_data(50))
    student = CountingStudent()
    fixed = TrainerConfig(steps_per_iteration=150, epochs=1)
    ContinueTrainer(fixed).train(student, _data(32), _data(32), base=base, iteration=2, seed=0)
    RetrainTrainer(fixed).train(student, _data(32), _data(64), base=base, iteration=3, seed=0)
    assert student.steps == [150, 450]


def test_built_in_and_hf_students_say_their_batch() -> None:
    tiny = TinyStudent(TinyStudentConfig(d_model=16, n_layer=1, n_head=2))
    assert (tiny.examples_per_step(48), tiny.examples_per_step(1000)) == (48, 64)
    # The HF student's rule reads only its config (no model needed).
    hf = HFStudent.__new__(HFStudent)
    hf.config = HFStudentConfig(batch_size=8, grad_accumulation=4)
    assert (hf.examples_per_step(5), hf.examples_per_step(100)) == (20, 32)
    assert data_steps(TrainerConfig(), hf, 384) == 36  # 3 epochs: ceil(3 * 384 / 32)


def test_bad_bounds_and_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="min_steps"):
        TrainerConfig(min_steps=50, max_steps=10)
    with pytest.raises(ValidationError):
        TrainerConfig.model_validate({"epoch": 3})
    with pytest.raises(ConfigError, match="epochs"):
        make_env("skill-tree", "arithmetic", trainer_config={"epochs": 0})


def test_a_step_rule_the_user_gives_overrides_a_fixed_episode_default() -> None:
    assert with_step_defaults({"steps_per_iteration": 400}, {"replay_ratio": 0.2}) == {
        "steps_per_iteration": 400,
        "replay_ratio": 0.2,
    }
    assert with_step_defaults({"steps_per_iteration": 400}, {"epochs": 3}) == {"epochs": 3}
    vqa = RunConfig.model_validate({"domain": "vqa", "trainer": {"epochs": 3}})
    assert (vqa.trainer.steps_per_iteration, vqa.trainer.epochs) == (None, 3)
    assert RunConfig(domain="vqa").trainer.steps_per_iteration == 400
    default = RunConfig()
    assert (default.trainer.steps_per_iteration, default.trainer.epochs) == (None, None)


def test_an_episode_step_trains_the_ruled_number_of_steps() -> None:
    env = make_env(
        "skill-tree",
        "arithmetic",
        env_config={"budget_per_iteration": 40, "max_iterations": 1},
        trainer_config={"epochs": 2, "min_steps": 1, "min_examples": 0},
        student_config={"d_model": 16, "n_layer": 1, "n_head": 2},
        pretrain_config={"steps": 2, "examples": 200},
        domain_config={"val_per_subskill": 2, "test_per_subskill": 2},
    )
    observation, _ = env.reset(seed=0)
    agent = make_agent("no-state", "skill-tree", env.unwrapped.domain)  # type: ignore[attr-defined]
    _, _, _, _, info = env.step(agent.act(observation))
    n = info["num_new_data"] + info["num_new_data"] // 2  # new + half as much replay
    assert n > 0
    assert info["train"]["steps"] == max(1, -(-2 * n // min(64, n)))


def test_base_rehearsal_keeps_the_base_data_in_every_fit_however_large(tmp_path: Path) -> None:
    # The base's pool is all no-carry; the episode's data all carry. With base_rehearsal=0.5
    # every fit adds half as many base examples as it trains on, above any floor.
    domain = ArithmeticDomain()
    pool = domain.generate("addition", "no_carry", 300, random.Random(2))
    base = BaseStudent(CountingStudent(), tmp_path, training_data=pool)
    accumulated = _data(1920, seed=5)
    config = TrainerConfig(mode="retrain", base_rehearsal=0.5, min_examples=576)
    student = FlooredStudent()
    RetrainTrainer(config).train(
        student, accumulated[-384:], accumulated, base=base, iteration=5, seed=0
    )
    fitted = student.fitted[0]
    assert len(fitted) == 1920 + 960
    assert fitted[:1920] == accumulated
    assert all(d.subskill == "no_carry" for d in fitted[1920:])
    # Continue: on new data + replay (384 + 192), then the floor has nothing left to add.
    student = FlooredStudent()
    go_on = TrainerConfig(base_rehearsal=0.5, min_examples=576)
    new = _data(384, seed=6)
    ContinueTrainer(go_on).train(student, new, new, base=base, iteration=1, seed=0)
    assert len(student.fitted[0]) == 576 + 288
    assert all(d.subskill == "no_carry" for d in student.fitted[0][576:])
    # Off by default: the same fit as before the setting existed.
    student = FlooredStudent()
    RetrainTrainer(TrainerConfig(mode="retrain")).train(
        student, accumulated[-384:], accumulated, base=base, iteration=5, seed=0
    )
    assert len(student.fitted[0]) == 1920
