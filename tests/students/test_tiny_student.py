from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.protocols import Student
from dataenvgym.students.tiny import TinyStudent, TinyStudentConfig, decode, encode

SMALL = TinyStudentConfig(d_model=32, n_layer=1, n_head=2, batch_size=32)


def test_encode_decode_round_trip() -> None:
    text = "123+456=0579"
    assert decode(encode(text)) == text


def test_student_learns_a_task_it_could_not_do() -> None:
    """Loss on the response only, reversed answers: no-carry addition is learned quickly."""
    domain = ArithmeticDomain()
    data = domain.generate("addition", "no_carry", 300, random.Random(0))
    student = TinyStudent(TinyStudentConfig(d_model=48, n_layer=2, n_head=2, batch_size=64))
    assert isinstance(student, Student)

    def accuracy() -> float:
        answers = student.predict_prompts([d.prompt for d in data[:100]])
        return sum(a == d.response for a, d in zip(answers, data[:100], strict=True)) / 100

    before = accuracy()
    stats = student.fit(data, steps=250, seed=0, lr=3e-3)
    assert stats.steps == 250 and stats.final_loss < 1.0
    assert accuracy() > before + 0.2


def test_same_seed_same_weights_and_save_load(tmp_path: Path) -> None:
    data = ArithmeticDomain().generate("addition", "carry", 50, random.Random(0))
    a, b = TinyStudent(SMALL), TinyStudent(SMALL)
    a.fit(data, steps=5, seed=1)
    b.fit(data, steps=5, seed=1)
    for (name, wa), wb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(wa, wb), name
    a.save(tmp_path / "ckpt")
    c = TinyStudent(SMALL)
    c.load(tmp_path / "ckpt")
    prompts = [d.prompt for d in data]
    assert c.predict_prompts(prompts) == a.predict_prompts(prompts)


def test_load_rejects_another_architecture(tmp_path: Path) -> None:
    TinyStudent(SMALL).save(tmp_path / "ckpt")
    other = TinyStudent(SMALL.model_copy(update={"d_model": 64}))
    with pytest.raises(ValueError, match="different architecture"):
        other.load(tmp_path / "ckpt")


def test_too_long_example_is_a_clear_error() -> None:
    student = TinyStudent(SMALL.model_copy(update={"max_len": 8}))
    data = ArithmeticDomain().generate("addition", "carry", 2, random.Random(0))
    with pytest.raises(ValueError, match="max_len"):
        student.fit(data, steps=1, seed=0)


def test_predict_handles_prompts_of_different_lengths() -> None:
    student = TinyStudent(SMALL)
    answers = student.predict_prompts(["1+1=", "100+200=", "7*7="])
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)


class _Recording(TinyStudent):
    """Keeps a copy of the weights after every training step (through ``progress``)."""

    def __init__(self, config: TinyStudentConfig) -> None:
        super().__init__(config)
        self.stepped: list[list[torch.Tensor]] = []
        self.progress = lambda step, loss: self.stepped.append(
            [p.detach().clone() for p in self.model.parameters()]
        )


def _data(count: int) -> list:
    return ArithmeticDomain().generate("addition", "carry", count, random.Random(0))


def test_averaging_ends_at_the_mean_of_the_last_steps_weights() -> None:
    student = _Recording(SMALL.model_copy(update={"average_last": 0.5}))
    student.fit(_data(40), steps=10, seed=0)
    assert len(student.stepped) == 10
    tail = student.stepped[5:]  # the last half of the steps
    for index, param in enumerate(student.model.parameters()):
        mean = torch.stack([weights[index] for weights in tail]).mean(dim=0)
        torch.testing.assert_close(param.detach(), mean)
    # the mean is not simply the last step's weights
    assert any(
        not torch.equal(p.detach(), w)
        for p, w in zip(student.model.parameters(), tail[-1], strict=True)
    )


def test_without_averaging_a_fit_ends_at_its_last_step() -> None:
    plain, explicit = TinyStudent(SMALL), _Recording(SMALL.model_copy(update={"average_last": 0.0}))
    plain.fit(_data(40), steps=6, seed=3)
    explicit.fit(_data(40), steps=6, seed=3)
    for a, b, last in zip(
        plain.model.parameters(), explicit.model.parameters(), explicit.stepped[-1], strict=True
    ):
        assert torch.equal(a, b)
        assert torch.equal(b.detach(), last)


def test_averaging_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="average_last"):
        TinyStudentConfig(average_last=1.5)


def _gradient(student: TinyStudent, batch: list[tuple[list[int], int]]) -> torch.Tensor:
    student.model.zero_grad(set_to_none=True)
    student.model.train()
    student._backward(batch)
    return torch.cat([p.grad.flatten() for p in student.model.parameters() if p.grad is not None])


@pytest.mark.parametrize("groups", [2, 3, 64])
def test_length_groups_give_the_whole_batch_gradient(groups: int) -> None:
    # Prompts of very different lengths, so that the pieces pad to different widths.
    pairs = [("1+1=", "2"), ("123+456=", "579"), ("12+3=", "15"), ("999+1=", "1000")] * 3
    whole = TinyStudent(TinyStudentConfig(length_groups=1, seed=3))
    pieces = TinyStudent(TinyStudentConfig(length_groups=groups, seed=3))
    batch = [whole._example(prompt, response) for prompt, response in pairs]
    expected, got = _gradient(whole, batch), _gradient(pieces, batch)
    assert expected.abs().max() > 0
    assert torch.allclose(got, expected, atol=1e-6, rtol=1e-4)


def test_length_groups_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        TinyStudentConfig(length_groups=0)
