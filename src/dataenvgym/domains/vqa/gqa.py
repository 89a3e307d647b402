"""GQA (Hudson & Manning, 2019) as a VQA domain: real images, question types as skills.

Questions come from a Hugging Face dataset (by name; ``lmms-lab/GQA`` lays GQA out as a
questions config and an images config) or from local files in GQA's own format: the
``*_questions.json`` mapping ``question id -> {question, answer, imageId, types, ...}`` (or
a JSONL of such records with an ``id``) plus a folder of ``<imageId>.jpg`` images.

As in DataEnvGym, the splits are balanced per question type (5 each by default); the skill
is GQA's ``semantic`` type (attr, cat, global, obj, rel) and the subskill its ``detailed``
type (relVerify, existOr, ...). Scoring is exact match after light normalisation.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from dataenvgym.cache import cache_dir
from dataenvgym.domains.vqa.images import make_prompt
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "gqa"


class GQAConfig(BaseModel):
    """Where GQA comes from and how the splits are drawn.

    Give either ``questions_path`` (+ ``images_dir``) for local files, or ``dataset`` for a
    Hugging Face dataset (downloaded by ``datasets``; offline use needs it in the HF cache).
    """

    dataset: str | None = Field(default=None, description="HF dataset name, e.g. lmms-lab/GQA.")
    questions_config: str = "testdev_balanced_instructions"
    images_config: str = "testdev_balanced_images"
    hf_split: str = "testdev"
    questions_path: Path | None = Field(default=None, description="GQA questions JSON/JSONL.")
    images_dir: Path | None = Field(default=None, description="Folder of <imageId>.jpg.")
    val_per_type: int = Field(default=5, ge=1, description="Validation items per question type.")
    test_per_type: int = Field(default=5, ge=1, description="Test items per question type.")
    skill_field: str = Field(default="semantic", description="types.<field> used as skill.")
    subskill_field: str = Field(default="detailed", description="types.<field> = question type.")

    @model_validator(mode="after")
    def _one_source(self) -> GQAConfig:
        if (self.dataset is None) == (self.questions_path is None):
            raise ValueError("give exactly one of dataset (HF name) or questions_path")
        if self.questions_path is not None and self.images_dir is None:
            raise ValueError("questions_path needs images_dir")
        return self


def normalize(text: str) -> str:
    """Lower case, no surrounding spaces or final period: GQA answers are short words."""
    return text.strip().lower().rstrip(".").strip()


def read_questions(path: Path) -> list[dict[str, Any]]:
    """Records from a GQA questions JSON (id -> record) or a JSONL with ``id`` fields."""
    if not path.is_file():
        raise ConfigError(f"GQA questions file {path} does not exist")
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if isinstance(data, dict):
        return [{"id": qid, **record} for qid, record in data.items()]
    return list(data)


def balanced(
    records: Iterable[Mapping[str, Any]], per_type: tuple[int, int], field: str, seed: int
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Up to ``per_type`` = (val, test) records per question type, split by image.

    Images are dealt to one side by a seeded shuffle, so validation and test share none.
    """
    records = list(records)
    images = sorted({str(r["imageId"]) for r in records})
    random.Random(f"gqa-images:{seed}").shuffle(images)
    val_images = set(images[: (len(images) + 1) // 2])
    by_type: dict[tuple[bool, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_type[(str(record["imageId"]) in val_images, record["types"][field])].append(record)
    rng = random.Random(f"gqa-sample:{seed}")
    val: list[Mapping[str, Any]] = []
    test: list[Mapping[str, Any]] = []
    for qtype in sorted({t for _, t in by_type}):
        for in_val, target, n in ((True, val, per_type[0]), (False, test, per_type[1])):
            pool = sorted(by_type[(in_val, qtype)], key=lambda r: str(r["id"]))
            target.extend(rng.sample(pool, min(n, len(pool))))
    return val, test


class GQADomain:
    """GQA questions on real images; a :class:`~dataenvgym.protocols.Domain` (no generators)."""

    name = NAME

    def __init__(self, config: GQAConfig) -> None:
        self.config = config
        self._records: list[dict[str, Any]] | None = None
        self._image_paths: dict[str, str] = {}

    # ------------------------------------------------------------------ loading

    def records(self) -> list[dict[str, Any]]:
        """All question records, loaded once (images located or exported to files)."""
        if self._records is None:
            if self.config.questions_path is not None:
                self._records = self._load_local()
            else:
                self._records = self._load_hf()
        return self._records

    def _load_local(self) -> list[dict[str, Any]]:
        assert self.config.questions_path is not None and self.config.images_dir is not None
        records = read_questions(self.config.questions_path)
        for record in records:
            image_id = str(record["imageId"])
            path = self.config.images_dir / f"{image_id}.jpg"
            if not path.is_file():
                raise ConfigError(f"GQA image {path} (for question {record['id']}) is missing")
            self._image_paths[image_id] = str(path)
        return records

    def _load_hf(self) -> list[dict[str, Any]]:
        try:
            import datasets
        except ImportError as err:
            raise ConfigError("a GQA dataset by name needs: pip install 'dataenvgym[hf]'") from err
        name = str(self.config.dataset)
        questions = datasets.load_dataset(
            name, self.config.questions_config, split=self.config.hf_split
        )
        images = datasets.load_dataset(name, self.config.images_config, split=self.config.hf_split)
        # Images are written once to the cache, so instances carry a path, not pixels.
        folder = cache_dir() / "gqa" / name.replace("/", "__") / self.config.images_config
        folder.mkdir(parents=True, exist_ok=True)
        for row in images:
            path = folder / f"{row['id']}.jpg"
            if not path.exists():
                row["image"].convert("RGB").save(path, quality=95)
            self._image_paths[str(row["id"])] = str(path)
        return [dict(row) for row in questions if str(row["imageId"]) in self._image_paths]

    # ------------------------------------------------------------------ protocol

    def skills(self) -> list[Skill]:
        tree: dict[str, set[str]] = defaultdict(set)
        for record in self.records():
            types = record["types"]
            tree[types[self.config.skill_field]].add(types[self.config.subskill_field])
        return [
            Skill(
                name=skill,
                description=f"GQA {self.config.skill_field} type {skill!r}",
                subskills={sub: f"GQA question type {sub!r}" for sub in sorted(subs)},
            )
            for skill, subs in sorted(tree.items())
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        per_type = (self.config.val_per_type, self.config.test_per_type)
        val, test = balanced(self.records(), per_type, self.config.subskill_field, seed)
        return self._instances(val, "val"), self._instances(test, "test")

    def _instances(self, records: list[Mapping[str, Any]], split: str) -> list[TaskInstance]:
        return [
            TaskInstance(
                id=f"gqa-{split}-{record['id']}",
                domain=NAME,
                prompt=make_prompt(f"gqa-{record['imageId']}", str(record["question"])),
                answer=normalize(str(record["answer"])),
                skill=record["types"][self.config.skill_field],
                subskill=record["types"][self.config.subskill_field],
                metadata={
                    "image_path": self._image_paths[str(record["imageId"])],
                    "question": record["question"],
                    "full_answer": record.get("fullAnswer", ""),
                },
            )
            for record in records
        ]

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        correct = normalize(prediction) == normalize(instance.answer)
        return Score(correct=correct, partial=float(correct))

    def verify(self, datum: TrainingDatum) -> str | None:
        """A GQA datum needs an image (``image_path`` in metadata) and a short answer."""
        path = datum.metadata.get("image_path")
        if path is None or not Path(str(path)).is_file():
            return "a GQA datum needs metadata['image_path'] pointing at an image file"
        if len(datum.response.split()) > 3:
            return f"GQA answers are one to three words, got {datum.response!r}"
        return None
