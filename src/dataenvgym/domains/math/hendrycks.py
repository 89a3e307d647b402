"""MATH (Hendrycks et al., 2021): competition problems in 7 subjects and 5 difficulty levels.

Gold skills are the subjects, their subskills the levels. As in the paper, validation is
drawn from the *train* split, balanced per subject × level, and the test split is MATH's test
(all 5 000 problems by default). The hub's original ``hendrycks/competition_math`` is gone;
``dataset`` names a copy (``EleutherAI/hendrycks_math``, one config per subject, or
``DigitalLearningGmbH/MATH-lighteval``, one config for all) or a local folder.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.math.answers import is_parseable, last_boxed, math_equal, math_equal_many
from dataenvgym.domains.math.loaders import Record, load_records, require_fields
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "math"

#: MATH's ``type`` field -> skill name (also EleutherAI/hendrycks_math's config names).
SUBJECTS: dict[str, str] = {
    "Algebra": "algebra",
    "Counting & Probability": "counting_and_probability",
    "Geometry": "geometry",
    "Intermediate Algebra": "intermediate_algebra",
    "Number Theory": "number_theory",
    "Prealgebra": "prealgebra",
    "Precalculus": "precalculus",
}
LEVELS = (1, 2, 3, 4, 5)

#: Hub datasets whose subjects are separate configs; others load their default config.
SUBSETS_BY_DATASET: dict[str, list[str]] = {
    "EleutherAI/hendrycks_math": sorted(SUBJECTS.values()),
}

DEFAULT_INSTRUCTION = "Solve the problem. Put the final answer in \\boxed{}."


class MathConfig(BaseModel):
    """Where MATH comes from and how the splits are drawn."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        default="EleutherAI/hendrycks_math", description="Hub dataset name or a local folder."
    )
    subsets: list[str] | None = Field(
        default=None, description="Hub configs to read (default: known per dataset, else one)."
    )
    revision: str | None = None
    val_per_subskill: int = Field(
        default=10, ge=1, description="Validation problems per subject × level, from train."
    )
    test_per_subskill: int | None = Field(
        default=None, ge=1, description="Test problems per subject × level (default: all)."
    )
    instruction: str = Field(
        default=DEFAULT_INSTRUCTION, description="Appended to every problem in the prompt."
    )
    scoring_workers: int = Field(
        default=0,
        ge=0,
        description="Processes that check answers (0: serial under 200 answers, else up to 8).",
    )


def subskill_name(level: int) -> str:
    return f"level_{level}"


def parse_level(value: object) -> int | None:
    """``"Level 3"`` -> 3; ``"Level ?"`` (a few MATH problems) -> ``None``."""
    match = re.search(r"\d", str(value))
    level = int(match.group(0)) if match else None
    return level if level in LEVELS else None


class MathDomain:
    """The MATH benchmark as a :class:`~dataenvgym.protocols.Domain` (no generators)."""

    name = NAME

    def __init__(self, config: MathConfig | None = None) -> None:
        self.config = config or MathConfig()

    # ------------------------------------------------------------------ data

    def prompt(self, problem: str) -> str:
        """The prompt of a problem: what the student sees and what training data must use."""
        return f"{problem.strip()}\n\n{self.config.instruction}"

    def _load(self, split: str) -> list[TaskInstance]:
        cfg = self.config
        subsets = cfg.subsets or SUBSETS_BY_DATASET.get(cfg.dataset, [None])  # type: ignore[list-item]
        records = load_records(cfg.dataset, split, subsets=subsets, revision=cfg.revision)
        require_fields(records, ("problem", "solution", "level", "type"), f"{cfg.dataset}:{split}")
        instances = []
        for index, record in enumerate(records):
            instance = self._instance(record, split, index)
            if instance is not None:
                instances.append(instance)
        if not instances:
            raise ConfigError(f"{cfg.dataset}:{split} has no usable MATH problems")
        return instances

    def _instance(self, record: Record, split: str, index: int) -> TaskInstance | None:
        skill = SUBJECTS.get(str(record["type"]))
        level = parse_level(record["level"])
        answer = last_boxed(str(record["solution"]))
        if skill is None or level is None or not answer:
            return None  # an unknown subject, "Level ?" or a solution without a boxed answer
        return TaskInstance(
            id=f"math-{split}-{index:05d}",
            domain=NAME,
            prompt=self.prompt(str(record["problem"])),
            answer=answer,
            skill=skill,
            subskill=subskill_name(level),
            metadata={"solution": record["solution"], "level": level, "subject": record["type"]},
        )

    @cached_property
    def train_instances(self) -> list[TaskInstance]:
        """MATH's train split (validation is drawn from it; teachers may imitate it)."""
        return self._load("train")

    @cached_property
    def test_instances(self) -> list[TaskInstance]:
        return self._load("test")

    # ------------------------------------------------------------------ Domain protocol

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=skill,
                description=f"MATH {subject} problems",
                subskills={
                    subskill_name(level): f"{subject}, difficulty level {level} of 5"
                    for level in LEVELS
                },
            )
            for subject, skill in SUBJECTS.items()
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Validation balanced per subject × level from train; test from test. Disjoint."""
        test = self.test_instances
        if self.config.test_per_subskill is not None:
            test = balanced_sample(test, self.config.test_per_subskill, f"test:{seed}")
        test_prompts = {inst.prompt for inst in test}
        pool = [inst for inst in self.train_instances if inst.prompt not in test_prompts]
        val = balanced_sample(pool, self.config.val_per_subskill, f"val:{seed}")
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        correct = math_equal(instance.answer, prediction)
        return Score(correct=correct, partial=1.0 if correct else 0.0)

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """:meth:`score` over a whole split, spread over processes when it is large."""
        correct = math_equal_many(
            [inst.answer for inst in instances], predictions, workers=self.config.scoring_workers
        )
        return [Score(correct=c, partial=1.0 if c else 0.0) for c in correct]

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        return [self.verify(datum) for datum in data]

    def verify(self, datum: TrainingDatum) -> str | None:
        """A generated solution must end in a boxed answer math-verify can read.

        Whether that answer is *right* cannot be checked without a reference; the teacher
        is responsible for it (as in the paper).
        """
        answer = last_boxed(datum.response)
        if not answer:
            return "the response has no \\boxed{...} final answer"
        if not is_parseable(answer):
            return f"the boxed answer {answer!r} is not a readable math expression"
        return None


def balanced_sample(instances: list[TaskInstance], per_cell: int, tag: str) -> list[TaskInstance]:
    """``per_cell`` instances per (skill, subskill), all of a smaller cell; order by cell."""
    cells: dict[tuple[str, str], list[TaskInstance]] = defaultdict(list)
    for inst in instances:
        cells[(inst.skill or "", inst.subskill or "")].append(inst)
    chosen: list[TaskInstance] = []
    for cell in sorted(cells):
        members = cells[cell]
        rng = random.Random(f"{tag}:{cell[0]}/{cell[1]}")
        picked = members if len(members) <= per_cell else rng.sample(members, per_cell)
        chosen.extend(sorted(picked, key=lambda inst: inst.id))
    return chosen
