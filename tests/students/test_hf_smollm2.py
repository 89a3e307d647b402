"""Integration: the packaged SmolLM2-135M-Instruct as the student, trained for a few LoRA steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataenvgym.students.hf import HFStudentConfig, HFStudentFactory
from dataenvgym.types import TaskInstance, TrainingDatum


@pytest.mark.slow
def test_smollm2_lora_steps_lower_the_loss_and_the_adapter_reloads(tmp_path: Path) -> None:
    # Converts the packaged GGUF into the (test-private) cache on first use.
    config = HFStudentConfig(lr=1e-3, batch_size=8)
    student = HFStudentFactory(config).student(seed=0)
    data = [
        TrainingDatum(
            id=f"d{i}",
            domain="arithmetic",
            prompt=f"{10 * i + 3:03d}+{i + 20:03d}=",
            response=f"{11 * i + 23:04d}",
        )
        for i in range(8)
    ]
    before = student.loss(data)
    stats = student.fit(data, steps=4, seed=0)
    after = student.loss(data)
    assert stats.steps == 4 and after < before - 0.2

    student.save(tmp_path / "adapter")
    reloaded = HFStudentFactory(config).student(seed=1)  # another base load, another adapter
    assert reloaded.loss(data) == pytest.approx(before, abs=0.05)  # a fresh adapter is the base
    reloaded.load(tmp_path / "adapter")
    assert reloaded.loss(data) == pytest.approx(after, abs=1e-4)
    questions = [
        TaskInstance(id=f"q{i}", domain="arithmetic", prompt=d.prompt, answer=d.response)
        for i, d in enumerate(data[:3])
    ]
    answers = student.predict(questions)
    assert reloaded.predict(questions) == answers
    assert all(len(a) <= 16 for a in answers)  # arithmetic answers are capped at 8 tokens
