"""easy-vqa as a second, real evaluation set for VQA students.

The ``easy-vqa`` package (pip) ships 4,000 training and 1,000 test images (64×64 PNG, one
shape on a light background) and about 48k questions on shape, colour and yes/no. Its
shapes and colours are the built-in VQA domain's, so a student taught on rendered scenes
can be scored on images it has never seen the like of, phrased in ways it was not taught.

:class:`EasyVQADomain` is a :class:`~dataenvgym.protocols.Domain` (no generators): its
validation and test splits come from the package's test images, split by image so the two
never share one, and balanced per question type. Data written for it are rendered scenes
checked by the built-in domain's verifier (an LLM teacher can write them).
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from dataenvgym.domains.vqa.domain import VQADomain, normalize_answer
from dataenvgym.domains.vqa.images import make_prompt
from dataenvgym.domains.vqa.questions import normalize_text
from dataenvgym.domains.vqa.scene import COLORS, SHAPES
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "easy-vqa"

#: skill -> subskill -> description
TAXONOMY: dict[str, dict[str, str]] = {
    "colour": {"query": "what colour the shape is"},
    "shape": {"query": "what the shape is"},
    "existence": {
        "colour": "whether a shape of a colour is present",
        "shape": "whether a shape of a kind is present",
    },
    "negation": {
        "colour": "whether a shape of a colour is absent ('is there not a red shape?')",
        "shape": "whether a shape of a kind is absent ('does the image not contain a circle?')",
    },
}


class EasyVQAConfig(BaseModel):
    """Sizes of the easy-vqa splits (drawn from the package's test set)."""

    val_per_subskill: int = Field(default=100, ge=1)
    test_per_subskill: int = Field(default=100, ge=1)


def question_type(question: str, answer: str) -> tuple[str, str]:
    """The (skill, subskill) of an easy-vqa question, from its wording and answer."""
    text = normalize_text(question)
    if answer in COLORS:
        return "colour", "query"
    if answer in SHAPES:
        return "shape", "query"
    words = text.split()
    negated = "not" in words or text.startswith("is no ")
    about = "shape" if any(s in words for s in SHAPES) else "colour"
    return ("negation" if negated else "existence"), about


def load_easy_vqa(split: Literal["train", "test"] = "test") -> list[TaskInstance]:
    """Every question of one split as task instances (image in ``metadata['image_path']``).

    Raises:
        ConfigError: if the ``easy-vqa`` package is not installed.
    """
    try:
        import easy_vqa
    except ImportError as err:
        raise ConfigError(
            "the easy-vqa data set needs its package: pip install 'dataenvgym[vqa]'"
        ) from err
    getters = {
        "train": (easy_vqa.get_train_questions, easy_vqa.get_train_image_paths),
        "test": (easy_vqa.get_test_questions, easy_vqa.get_test_image_paths),
    }
    get_questions, get_paths = getters[split]
    texts, answers, image_ids = get_questions()
    paths: dict[int, str] = get_paths()
    instances = []
    for index, (text, answer, image_id) in enumerate(zip(texts, answers, image_ids, strict=True)):
        skill, subskill = question_type(text, answer)
        instances.append(
            TaskInstance(
                id=f"easy-vqa-{split}-{index:05d}",
                domain=NAME,
                prompt=make_prompt(f"easy-vqa-{split}-{image_id}", text),
                answer=answer,
                skill=skill,
                subskill=subskill,
                metadata={"image_path": str(Path(paths[image_id])), "image_id": image_id},
            )
        )
    return instances


class EasyVQADomain:
    """easy-vqa's test images as validation and test splits, balanced per question type."""

    name = NAME

    def __init__(self, config: EasyVQAConfig | None = None) -> None:
        self.config = config or EasyVQAConfig()
        self._verifier = VQADomain()

    def skills(self) -> list[Skill]:
        return [
            Skill(name=skill, description=f"easy-vqa {skill} questions", subskills=subs)
            for skill, subs in TAXONOMY.items()
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Images are dealt to validation or test by a seeded shuffle; then per subskill
        the first ``val_per_subskill`` (``test_per_subskill``) questions of each side."""
        instances = load_easy_vqa("test")
        images = sorted({inst.metadata["image_id"] for inst in instances})
        random.Random(f"easy-vqa:{seed}").shuffle(images)
        val_images = set(images[: len(images) // 2])
        groups: dict[tuple[bool, str, str], list[TaskInstance]] = defaultdict(list)
        for inst in instances:
            in_val = inst.metadata["image_id"] in val_images
            groups[(in_val, inst.skill or "", inst.subskill or "")].append(inst)
        rng = random.Random(f"easy-vqa-sample:{seed}")
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        for skill, subs in TAXONOMY.items():
            for subskill in subs:
                for in_val, target, n in (
                    (True, val, self.config.val_per_subskill),
                    (False, test, self.config.test_per_subskill),
                ):
                    pool = groups[(in_val, skill, subskill)]
                    target.extend(rng.sample(pool, min(n, len(pool))))
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        correct = normalize_answer(prediction) == normalize_answer(instance.answer)
        return Score(correct=correct, partial=float(correct))

    def verify(self, datum: TrainingDatum) -> str | None:
        """Training data are rendered scenes: checked like the built-in domain's."""
        return self._verifier.verify(datum)
