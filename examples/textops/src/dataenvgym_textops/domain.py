"""A string-manipulation domain: reverse, sort and count short strings.

Every prompt ends with ``=`` and every answer is at most 6 characters of lowercase letters or
digits, so the built-in tiny student (8 characters out, 48 in context) can learn all of it.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "textops"
VOWELS = "aeiou"

Problem = tuple[str, str]  # (prompt, answer)


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def reverse_short(rng: random.Random) -> Problem:
    word = _letters(rng, 3)
    return f"rev:{word}=", word[::-1]


def reverse_long(rng: random.Random) -> Problem:
    word = _letters(rng, 6)
    return f"rev:{word}=", word[::-1]


def sort_digits(rng: random.Random) -> Problem:
    digits = "".join(rng.choice(string.digits) for _ in range(5))
    return f"sort:{digits}=", "".join(sorted(digits))


def sort_letters(rng: random.Random) -> Problem:
    word = _letters(rng, 5)
    return f"sort:{word}=", "".join(sorted(word))


def count_vowels(rng: random.Random) -> Problem:
    word = _letters(rng, 8)
    return f"vowels:{word}=", str(sum(ch in VOWELS for ch in word))


def count_letter(rng: random.Random) -> Problem:
    letter = rng.choice("abcde")
    word = "".join(rng.choice("abcde") for _ in range(8))
    return f"count {letter}:{word}=", str(word.count(letter))


#: skill -> subskill -> (description, generator)
CATALOGUE: dict[str, dict[str, tuple[str, Callable[[random.Random], Problem]]]] = {
    "reverse": {
        "short": ("reverse a 3-letter string", reverse_short),
        "long": ("reverse a 6-letter string", reverse_long),
    },
    "sort": {
        "digits": ("sort 5 digits ascending", sort_digits),
        "letters": ("sort 5 letters alphabetically", sort_letters),
    },
    "count": {
        "vowels": ("count the vowels of an 8-letter string", count_vowels),
        "letter": ("count one letter in an 8-letter string over a-e", count_letter),
    },
}

DEFAULT_MIX = {
    "reverse/short": 0.4,
    "reverse/long": 0.05,
    "sort/digits": 0.3,
    "sort/letters": 0.05,
    "count/vowels": 0.1,
    "count/letter": 0.1,
}


def answer_for(prompt: str) -> str:
    """Recompute the answer of a prompt; ``ValueError`` for anything not in the format."""
    if not prompt.endswith("="):
        raise ValueError("prompt must end with '='")
    op, sep, arg = prompt[:-1].partition(":")
    if not sep or not arg:
        raise ValueError(f"not an operation: {prompt!r}")
    if op == "rev":
        return arg[::-1]
    if op == "sort":
        return "".join(sorted(arg))
    if op == "vowels":
        return str(sum(ch in VOWELS for ch in arg))
    if op.startswith("count ") and len(op) == 7:
        return str(arg.count(op[-1]))
    raise ValueError(f"unknown operation {op!r}")


def datum_id(prompt: str, response: str) -> str:
    """A content-derived id: the same datum always gets the same id."""
    return hashlib.sha1(f"{NAME}\x00{prompt}\x00{response}".encode()).hexdigest()[:16]


class TextOpsConfig(BaseModel):
    """The domain's settings (the run's ``domain_config``)."""

    model_config = ConfigDict(extra="forbid")

    val_per_subskill: int = Field(default=100, ge=1)
    test_per_subskill: int = Field(default=100, ge=1)
    pretraining_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX))


class TextOpsDomain:
    """Reverse, sort and count: a :class:`dataenvgym.protocols.ProceduralDomain`."""

    name = NAME
    #: Bump when a generator's output changes: cached base students are then rebuilt.
    version = "1"

    def __init__(self, config: TextOpsConfig | None = None) -> None:
        self.config = config or TextOpsConfig()

    def skills(self) -> list[Skill]:
        return [
            Skill(name=skill, subskills={sub: desc for sub, (desc, _) in subs.items()})
            for skill, subs in CATALOGUE.items()
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Balanced per subskill; no prompt is in both splits."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        n_val, n_test = self.config.val_per_subskill, self.config.test_per_subskill
        for skill, subs in CATALOGUE.items():
            for subskill, (_, make) in subs.items():
                rng = random.Random(f"{NAME}:splits:{seed}:{skill}/{subskill}")
                seen: dict[str, str] = {}
                for _ in range(100 * (n_val + n_test)):
                    if len(seen) == n_val + n_test:
                        break
                    prompt, answer = make(rng)
                    seen.setdefault(prompt, answer)
                else:
                    raise ValueError(f"{skill}/{subskill} has too few distinct problems")
                for index, (prompt, answer) in enumerate(seen.items()):
                    split, target = ("val", val) if index < n_val else ("test", test)
                    target.append(
                        TaskInstance(
                            id=f"{split}-{skill}-{subskill}-{index:04d}",
                            domain=NAME,
                            prompt=prompt,
                            answer=answer,
                            skill=skill,
                            subskill=subskill,
                        )
                    )
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        """Exact match; partial credit is the share of positions predicted right."""
        gold, pred = instance.answer, prediction.strip()
        hits = sum(a == b for a, b in zip(gold, pred, strict=False))
        return Score(correct=pred == gold, partial=hits / max(len(gold), len(pred), 1))

    def verify(self, datum: TrainingDatum) -> str | None:
        try:
            expected = answer_for(datum.prompt)
        except ValueError as err:
            return str(err)
        if datum.response != expected:
            return f"response {datum.response!r} != {expected!r}"
        return None

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        try:
            make = CATALOGUE[skill][subskill][1]
        except KeyError:
            return []  # not a subskill of this domain: nothing to generate
        data = []
        for _ in range(count):
            prompt, answer = make(rng)
            data.append(
                TrainingDatum(
                    id=datum_id(prompt, answer),
                    domain=NAME,
                    prompt=prompt,
                    response=answer,
                    skill=skill,
                    subskill=subskill,
                )
            )
        return data

    def pretraining_mix(self) -> dict[str, float]:
        return dict(self.config.pretraining_mix)


def make_domain(config: dict | None = None) -> TextOpsDomain:
    """The plugin's factory: ``domain_config`` -> domain."""
    return TextOpsDomain(TextOpsConfig.model_validate(config or {}))
