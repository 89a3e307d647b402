"""The cached base student follows the domain's generator and version; pretraining is verified."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import broken_domains
import pytest

from dataenvgym.errors import ConfigError
from dataenvgym.students.factory import PretrainConfig, TinyStudentFactory
from dataenvgym.students.tiny import TinyStudentConfig
from dataenvgym.types import TrainingDatum

HERE = Path(__file__).parent


@pytest.fixture
def user_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """``broken_domains`` importable the way a user's own module is (on the path)."""
    monkeypatch.syspath_prepend(str(HERE))
    return "broken_domains"


@pytest.fixture
def factory(tmp_path: Path, tiny_student: dict[str, Any]) -> TinyStudentFactory:
    return TinyStudentFactory(
        TinyStudentConfig(**tiny_student),
        PretrainConfig(steps=3, examples=200),
        cache_root=tmp_path / "students",
    )


def test_the_base_student_is_rebuilt_when_the_generator_changes(
    factory: TinyStudentFactory, user_module: str
) -> None:
    first = factory.base_student(broken_domains.MiniDomain(), seed=0, exclude_prompts=set())
    again = factory.base_student(broken_domains.MiniDomain(), seed=0, exclude_prompts=set())
    assert not first.cached and again.cached and again.checkpoint == first.checkpoint

    class NewGenerator(broken_domains.MiniDomain):  # same name, skills and splits; other data
        def answer(self, op: str, arg: str) -> str:
            return super().answer(op, arg).upper()

        def verify(self, datum: TrainingDatum) -> Any:
            return None

    changed = factory.base_student(NewGenerator(), seed=0, exclude_prompts=set())
    assert not changed.cached and changed.checkpoint != first.checkpoint
    assert changed.training_data[0].response.isupper()

    # The output looks the same; the author says it is not.
    class NewVersion(broken_domains.MiniDomain):
        version = "2"

    bumped = factory.base_student(NewVersion(), seed=0, exclude_prompts=set())
    assert not bumped.cached and bumped.checkpoint != first.checkpoint


def test_pretraining_data_pass_verify_and_drops_are_counted(
    factory: TinyStudentFactory, user_module: str
) -> None:

    class OneBadPerCall(broken_domains.MiniDomain):
        def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
            data = super().generate(skill, subskill, count, rng)
            if count >= 20:  # pretraining's draws: one wrong datum in each
                bad = data[0].model_copy(update={"id": f"bad-{subskill}", "response": "zz"})
                data[0] = bad
            return data

    base = factory.base_student(OneBadPerCall(), seed=0, exclude_prompts=set())
    assert all(not d.id.startswith("bad-") for d in base.training_data)
    saved = json.loads((base.checkpoint / "pretrain.json").read_text())
    assert saved["dropped_ids"] == sorted(["bad-one", "bad-two", "bad-three"])
    assert saved["examples"] == len(base.training_data)
    cached = factory.base_student(OneBadPerCall(), seed=0, exclude_prompts=set())
    assert cached.cached and [d.id for d in cached.training_data] == [
        d.id for d in base.training_data
    ]


def test_too_many_rejected_pretraining_data_is_an_error(
    factory: TinyStudentFactory, user_module: str
) -> None:
    with pytest.raises(ConfigError) as err:
        domain = broken_domains.VerifierRejectsGenerator()
        factory.base_student(domain, seed=0, exclude_prompts=set())
    message = str(err.value)
    assert message.startswith("domain 'mini': generate: its own verify rejects 200 of 200")
    assert "fix the generator or the verifier" in message
    assert not any((factory.cache_root or Path()).glob("mini-*/model.pt"))


def test_students_that_differ_only_in_fit_averaging_share_one_base(
    tmp_path: Path, tiny_student: dict[str, Any], user_module: str
) -> None:
    def factory(**student: Any) -> TinyStudentFactory:
        return TinyStudentFactory(
            TinyStudentConfig(**{**tiny_student, **student}),
            PretrainConfig(steps=3, examples=200),
            cache_root=tmp_path / "students",
        )

    domain = broken_domains.MiniDomain()
    plain = factory().base_student(domain, seed=0, exclude_prompts=set())
    averaged = factory(average_last=0.5).base_student(domain, seed=0, exclude_prompts=set())
    assert not plain.cached and averaged.cached and averaged.checkpoint == plain.checkpoint
    # any setting that does change pretraining is another base
    other = factory(pretrain_lr=1e-3).base_student(domain, seed=0, exclude_prompts=set())
    assert not other.cached and other.checkpoint != plain.checkpoint
