"""A small valid domain and broken variants of it, each a ``module:factory`` target.

Imported by the plugin tests through ``broken_domains:<factory>`` paths, the way a user's own
module is named on the command line.
"""

from __future__ import annotations

import random
from typing import Any

from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

OPS = {"rev": lambda s: s[::-1], "dup": lambda s: s + s}
SUBSKILLS = {"rev": {"two": 2, "three": 3}, "dup": {"one": 1, "two": 2}}


class MiniDomain:
    """2 skills × 2 subskills of string copying; keeps the whole contract."""

    name = "mini"
    version = "1"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.per_subskill = int(self.config.get("per_subskill", 6))

    def skills(self) -> list[Skill]:
        return [Skill(name=op, subskills={s: s for s in subs}) for op, subs in SUBSKILLS.items()]

    def _problem(self, op: str, sub: str, rng: random.Random) -> tuple[str, str]:
        arg = "".join(rng.choice("abcdefghijklmnop") for _ in range(SUBSKILLS[op][sub]))
        return self.prompt(op, arg), self.answer(op, arg)

    def prompt(self, op: str, arg: str) -> str:
        return f"{op}:{arg}="

    def answer(self, op: str, arg: str) -> str:
        return OPS[op](arg)

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        for op, subs in SUBSKILLS.items():
            for sub in subs:
                rng = random.Random(f"{seed}:{op}:{sub}")
                seen: dict[str, str] = {}
                while len(seen) < 2 * self.per_subskill:
                    prompt, answer = self._problem(op, sub, rng)
                    seen.setdefault(prompt, answer)
                for i, (prompt, answer) in enumerate(seen.items()):
                    split, target = ("val", val) if i < self.per_subskill else ("test", test)
                    target.append(self.item(f"{split}-{op}-{sub}-{i:03d}", prompt, answer, op, sub))
        return val, test

    def item(self, id: str, prompt: str, answer: str, op: str, sub: str) -> TaskInstance:
        return TaskInstance(
            id=id, domain=self.name, prompt=prompt, answer=answer, skill=op, subskill=sub
        )

    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        return Score(
            correct=prediction == instance.answer, partial=float(prediction == instance.answer)
        )

    def verify(self, datum: TrainingDatum) -> Any:
        op, _, arg = datum.prompt[:-1].partition(":")
        if op not in OPS:
            return f"unknown op {op!r}"
        expected = self.answer(op, arg)
        return None if datum.response == expected else f"{datum.response!r} != {expected!r}"

    def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
        out = []
        for _ in range(count):
            prompt, answer = self._problem(skill, subskill, rng)
            out.append(
                TrainingDatum(
                    id=f"{prompt}{answer}",
                    domain=self.name,
                    prompt=prompt,
                    response=answer,
                    skill=skill,
                    subskill=subskill,
                )
            )
        return out

    def pretraining_mix(self) -> dict[str, float]:
        return {f"{op}/{sub}": 1.0 for op, subs in SUBSKILLS.items() for sub in subs}


def valid(config: dict[str, Any]) -> MiniDomain:
    return MiniDomain(config)


# --------------------------------------------------------------------------- broken variants


class GeneratorDicts(MiniDomain):
    def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
        return [d.model_dump() for d in super().generate(skill, subskill, count, rng)]


class ScorerRaises(MiniDomain):
    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        raise ValueError("cannot parse the answer")


class ScorerTuple(MiniDomain):
    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        return (prediction == instance.answer, 1.0)


class EmptyValidation(MiniDomain):
    def splits(self, seed: int) -> Any:
        return [], super().splits(seed)[1]


class ValidationIsTest(MiniDomain):
    def splits(self, seed: int) -> Any:
        val, _ = super().splits(seed)
        return val, list(val)


class UnknownSubskill(MiniDomain):
    def splits(self, seed: int) -> Any:
        val, test = super().splits(seed)
        return [v.model_copy(update={"subskill": "four"}) for v in val[:2]] + val[2:], test


class LongAnswers(MiniDomain):
    def answer(self, op: str, arg: str) -> str:
        return (super().answer(op, arg) * 8)[:14]

    def verify(self, datum: TrainingDatum) -> Any:
        return None


class NonAscii(MiniDomain):
    def prompt(self, op: str, arg: str) -> str:
        return f"{op}×{arg}="

    def verify(self, datum: TrainingDatum) -> Any:
        return None


class LongContext(MiniDomain):
    def prompt(self, op: str, arg: str) -> str:
        return f"please apply the operation {op} to the string {arg}="

    def verify(self, datum: TrainingDatum) -> Any:
        return None


class VerifierRejectsGenerator(MiniDomain):
    def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
        data = super().generate(skill, subskill, count, rng)
        return [d.model_copy(update={"response": d.response + "x"}) for d in data]


class VerifyReturnsBool(MiniDomain):
    def verify(self, datum: TrainingDatum) -> Any:
        return super().verify(datum) is None


class GoldScoredWrong(MiniDomain):
    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        return Score(correct=False, partial=0.0)


class GenerateTooMany(MiniDomain):
    def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
        return super().generate(skill, subskill, count + 3, rng)


class ItemsOfAnotherDomain(MiniDomain):
    def item(self, id: str, prompt: str, answer: str, op: str, sub: str) -> TaskInstance:
        return super().item(id, prompt, answer, op, sub).model_copy(update={"domain": "other"})


class MixUnknownKey(MiniDomain):
    def pretraining_mix(self) -> dict[str, float]:
        return {**super().pretraining_mix(), "nope/x": 1.0}


class SplitsRaise(MiniDomain):
    def splits(self, seed: int) -> Any:
        raise RuntimeError("data file missing")


class SkillsEmpty(MiniDomain):
    def skills(self) -> list[Skill]:
        return []


class DuplicateIds(MiniDomain):
    def splits(self, seed: int) -> Any:
        val, test = super().splits(seed)
        return [val[0], *val], test


class VersionInt(MiniDomain):
    version = 2  # type: ignore[assignment]


class NoVerify:
    name = "noverify"

    def skills(self) -> list[Skill]:
        return MiniDomain().skills()

    def splits(self, seed: int) -> Any:
        return MiniDomain().splits(seed)

    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        return MiniDomain().score(instance, prediction)


class GeneratorRaisesOnBigCounts(MiniDomain):
    """Keeps the contract on the check's sample, fails in a run's first real request."""

    def generate(self, skill: str, subskill: str, count: int, rng: random.Random) -> Any:
        if count > 4:
            raise OverflowError("ran out of problems")
        return super().generate(skill, subskill, count, rng)


class TestScorerRaises(MiniDomain):
    """Scores the check's sample fine, raises on one later test item."""

    def score(self, instance: TaskInstance, prediction: Any) -> Any:
        if instance.id.endswith("-009"):
            raise ZeroDivisionError("division by zero")
        return super().score(instance, prediction)


def _factory(cls: type) -> Any:
    return lambda config: cls(config)


generator_dicts = _factory(GeneratorDicts)
scorer_raises = _factory(ScorerRaises)
scorer_tuple = _factory(ScorerTuple)
empty_validation = _factory(EmptyValidation)
validation_is_test = _factory(ValidationIsTest)
unknown_subskill = _factory(UnknownSubskill)
long_answers = _factory(LongAnswers)
non_ascii = _factory(NonAscii)
long_context = _factory(LongContext)
verifier_rejects_generator = _factory(VerifierRejectsGenerator)
verify_returns_bool = _factory(VerifyReturnsBool)
gold_scored_wrong = _factory(GoldScoredWrong)
generate_too_many = _factory(GenerateTooMany)
items_of_another_domain = _factory(ItemsOfAnotherDomain)
mix_unknown_key = _factory(MixUnknownKey)
splits_raise = _factory(SplitsRaise)
skills_empty = _factory(SkillsEmpty)
duplicate_ids = _factory(DuplicateIds)
version_int = _factory(VersionInt)
generator_raises_on_big_counts = _factory(GeneratorRaisesOnBigCounts)
test_scorer_raises = _factory(TestScorerRaises)


def no_verify(config: dict[str, Any]) -> Any:
    return NoVerify()


def returns_none(config: dict[str, Any]) -> Any:
    return None


def raises(config: dict[str, Any]) -> Any:
    raise KeyError("missing setting 'path'")


not_callable = 42
