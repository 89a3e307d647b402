"""A custom domain from your own JSONL files: one task instance per line.

Each line is a JSON object with ``prompt`` and ``answer`` (required) and ``id``, ``skill``,
``subskill``, ``metadata`` (optional)::

    {"prompt": "Capital of France?", "answer": "Paris", "skill": "geography"}

``validation`` and ``test`` are separate files; a prompt may appear in only one of them.
Unlabelled lines get the skill ``"all"``. Answers are compared after normalising case and
whitespace (or exactly, with ``scorer: exact``); partial credit is the share of answer words
found in the prediction. The domain has no generator, so it is taught by an LLM teacher.

    dataenvgym run --domain jsonl --config my.yaml   # domain_config: {validation: …, test: …}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "jsonl"
REQUIRED_FIELDS = ("prompt", "answer")
OPTIONAL_FIELDS = ("id", "skill", "subskill", "metadata")
UNLABELLED_SKILL = "all"


class TaskFileError(ConfigError):
    """A task file is missing, not JSONL, or has a line without a required field."""


class TaskFileConfig(BaseModel):
    """Where the task files are and how answers are compared."""

    model_config = ConfigDict(extra="forbid")

    validation: Path = Field(description="JSONL file of validation instances.")
    test: Path = Field(description="JSONL file of held-out test instances.")
    name: str = Field(default=NAME, description="Domain name written on every datum.")
    scorer: Literal["normalized", "exact"] = Field(
        default="normalized", description="Compare answers ignoring case and spaces, or exactly."
    )


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist; fix the path in domain_config")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise TaskFileError(
                    f"{path} line {number} is not JSON ({err.msg}); write one JSON object a line"
                ) from err
            if not isinstance(row, dict):
                raise TaskFileError(
                    f"{path} line {number} is a {type(row).__name__}, not a JSON object"
                )
            yield number, row


def load_task_file(path: Path, *, domain: str = NAME, split: str = "task") -> list[TaskInstance]:
    """Read a JSONL task file into task instances.

    Args:
        path: The file.
        domain: Written on every instance.
        split: Prefix of generated ids (``"val"``, ``"test"``).

    Raises:
        TaskFileError: one line naming the file, the line, the problem and the fix.
    """
    instances: list[TaskInstance] = []
    for number, row in _lines(path):
        for key in REQUIRED_FIELDS:
            value = row.get(key)
            if not isinstance(value, str) or not value.strip():
                problem = "missing field" if key not in row else "empty or non-string field"
                raise TaskFileError(
                    f"{path} line {number}: {problem} {key!r}; every line needs "
                    f"{' and '.join(map(repr, REQUIRED_FIELDS))} as non-empty strings"
                )
        unknown = sorted(set(row) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
        if unknown:
            raise TaskFileError(
                f"{path} line {number}: unknown fields {unknown}; allowed: "
                f"{', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)} (put extras under 'metadata')"
            )
        instances.append(
            TaskInstance(
                id=str(row.get("id") or f"{split}-{number:05d}"),
                domain=domain,
                prompt=row["prompt"],
                answer=row["answer"],
                skill=row.get("skill") or UNLABELLED_SKILL,
                subskill=row.get("subskill"),
                metadata=row.get("metadata") or {},
            )
        )
    if not instances:
        raise TaskFileError(f"task file {path} holds no instances; add one JSON object a line")
    return instances


def _normalize(text: str) -> str:
    return " ".join(text.lower().split())


class TaskFileDomain:
    """A :class:`~dataenvgym.protocols.Domain` read from a validation and a test JSONL file.

    The files are read when the domain is built, so a bad file fails before anything runs.
    """

    def __init__(self, config: TaskFileConfig) -> None:
        self.config = config
        self.name = config.name
        self.validation = load_task_file(config.validation, domain=self.name, split="val")
        self.test = load_task_file(config.test, domain=self.name, split="test")
        val_prompts = {inst.prompt for inst in self.validation}
        for number, inst in enumerate(self.test, start=1):
            if inst.prompt in val_prompts:
                raise TaskFileError(
                    f"test instance {inst.id} (item {number} of {config.test}) repeats a "
                    "validation prompt; the splits must be disjoint"
                )

    def skills(self) -> list[Skill]:
        subskills: dict[str, dict[str, str]] = {}
        for inst in [*self.validation, *self.test]:
            subs = subskills.setdefault(inst.skill or UNLABELLED_SKILL, {})
            if inst.subskill:
                subs.setdefault(inst.subskill, "")
        return [Skill(name=name, subskills=subs) for name, subs in sorted(subskills.items())]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """The files' own splits (the seed does not reshuffle fixed benchmark files)."""
        return list(self.validation), list(self.test)

    def _matches(self, gold: str, prediction: str) -> bool:
        if self.config.scorer == "exact":
            return prediction == gold
        return _normalize(prediction) == _normalize(gold)

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        if self._matches(instance.answer, prediction):
            return Score(correct=True, partial=1.0)
        gold_words = _normalize(instance.answer).split()
        predicted = set(_normalize(prediction).split())
        partial = sum(word in predicted for word in gold_words) / len(gold_words)
        return Score(correct=False, partial=partial)

    def verify(self, datum: TrainingDatum) -> str | None:
        """Without a reference solver, only the form can be checked."""
        if datum.domain != self.name:
            return f"datum is from domain {datum.domain!r}, not {self.name!r}"
        return None
