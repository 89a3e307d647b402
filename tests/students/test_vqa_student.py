"""The built-in VQA student: learns from rendered scenes, saves and loads, caches its base."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.domains.vqa.domain import VQAConfig, VQADomain
from dataenvgym.domains.vqa.easy_vqa import load_easy_vqa
from dataenvgym.protocols import Student
from dataenvgym.students.vqa import VQAStudent, VQAStudentConfig
from dataenvgym.students.vqa_factory import VQAPretrainConfig, VQAStudentFactory
from dataenvgym.types import TaskInstance

TINY: dict[str, Any] = {
    "channels": (8, 8, 16, 16),
    "word_dim": 16,
    "question_dim": 32,
    "hidden_dim": 32,
}


def _as_instances(data: list) -> list[TaskInstance]:
    return [
        TaskInstance(
            id=d.id, domain=d.domain, prompt=d.prompt, answer=d.response, metadata=d.metadata
        )
        for d in data
    ]


def test_it_learns_to_name_colours_from_pixels() -> None:
    domain = VQADomain()
    data = domain.generate("colour", "by_shape", 48, random.Random(0))
    student = VQAStudent(VQAStudentConfig(**TINY, batch_size=16, seed=0))
    assert isinstance(student, Student)
    before = sum(
        p == d.response for p, d in zip(student.predict(_as_instances(data)), data, strict=True)
    )
    stats = student.fit(data, steps=60, seed=0, lr=1e-2)
    after = sum(
        p == d.response for p, d in zip(student.predict(_as_instances(data)), data, strict=True)
    )
    assert stats.steps == 60 and stats.final_loss < 2.0
    assert after >= before + 12  # of 48, from chance (1/8) to most


def test_save_load_round_trip_and_vocabulary_checks(tmp_path: Path) -> None:
    data = VQADomain().generate("counting", "all", 8, random.Random(1))
    student = VQAStudent(VQAStudentConfig(**TINY))
    student.fit(data, steps=3, seed=0)
    student.save(tmp_path)
    other = VQAStudent(VQAStudentConfig(**TINY, seed=5))
    items = _as_instances(data)
    other.load(tmp_path)
    assert other.predict(items) == student.predict(items)
    assert set(student.predict(items)) <= set(student.config.answers)
    wider = VQAStudent(VQAStudentConfig(**{**TINY, "hidden_dim": 48}))
    with pytest.raises(ValueError, match="hidden_dim"):
        wider.load(tmp_path)
    with pytest.raises(ValueError, match="not in the student's answer vocabulary"):
        student.fit([data[0].model_copy(update={"response": "seven"})], steps=1, seed=0)


def test_it_answers_easy_vqa_images_from_files() -> None:
    pytest.importorskip("easy_vqa", reason="easy-vqa ships in the [vqa] extra")
    items = load_easy_vqa("test")[:5]
    answers = VQAStudent(VQAStudentConfig(**TINY)).predict(items)
    assert len(answers) == 5 and all(a in VQAStudentConfig().answers for a in answers)


def test_factory_pretrains_once_then_loads_from_the_cache(tmp_path: Path) -> None:
    domain = VQADomain(VQAConfig(val_per_subskill=2, test_per_subskill=2))
    factory = VQAStudentFactory(
        VQAStudentConfig(**TINY), VQAPretrainConfig(steps=2, examples=60), cache_root=tmp_path
    )
    val, test = domain.splits(0)
    exclude = {i.prompt for i in [*val, *test]}
    first = factory.base_student(domain, seed=0, exclude_prompts=exclude)
    second = factory.base_student(domain, seed=0, exclude_prompts=exclude)
    assert not first.cached and second.cached and first.checkpoint == second.checkpoint
    assert len(first.training_data) >= 50
    assert {d.source for d in first.training_data} == {"pretrain"}
    assert second.student.predict(val) == first.student.predict(val)
