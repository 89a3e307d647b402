"""Base students for the built-in domains: pretrained on a skewed mix, cached on disk."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from dataenvgym.cache import cache_dir, fingerprint
from dataenvgym.errors import ConfigError
from dataenvgym.numerics import numerics_key
from dataenvgym.protocols import BaseStudent, Domain, ProceduralDomain
from dataenvgym.students.tiny import TinyStudent, TinyStudentConfig
from dataenvgym.types import TrainingDatum

#: Bump when pretraining changes in a way the cache key does not capture.
RECIPE_VERSION = 1


class PretrainConfig(BaseModel):
    """How the base student is pretrained."""

    steps: int = Field(default=800, ge=0, description="Optimiser steps of pretraining.")
    examples: int = Field(default=20_000, ge=1, description="Size of the pretraining set.")


def pretraining_data(
    domain: ProceduralDomain, examples: int, seed: int, exclude_prompts: set[str]
) -> list[TrainingDatum]:
    """Draw the domain's pretraining mix, leaving out evaluation prompts."""
    mix = domain.pretraining_mix()
    total = sum(mix.values())
    rng = random.Random(f"pretrain:{seed}")
    data: list[TrainingDatum] = []
    for key, weight in sorted(mix.items()):
        skill, subskill = key.split("/", 1)
        count = round(examples * weight / total)
        drawn = domain.generate(skill, subskill, count, rng)
        data.extend(d.model_copy(update={"source": "pretrain"}) for d in drawn)
    return [d for d in data if d.prompt not in exclude_prompts]


class TinyStudentFactory:
    """The built-in :class:`~dataenvgym.protocols.StudentFactory`.

    The base student depends on (student config, pretraining config, domain, mix, seed,
    evaluation prompts); the checkpoint is cached under that fingerprint, so only the first
    episode with a given setting pays for pretraining.
    """

    name = "tiny"

    def __init__(
        self,
        config: TinyStudentConfig | None = None,
        pretrain: PretrainConfig | None = None,
        *,
        cache_root: Path | None = None,
        on_pretrain_progress: Callable[[int, float], None] | None = None,
    ) -> None:
        self.config = config or TinyStudentConfig()
        self.pretrain = pretrain or PretrainConfig()
        self.cache_root = cache_root
        self.on_pretrain_progress = on_pretrain_progress

    def _key(self, domain: Domain, seed: int, exclude_prompts: set[str]) -> str:
        mix = domain.pretraining_mix() if isinstance(domain, ProceduralDomain) else None
        return fingerprint(
            {
                "recipe": RECIPE_VERSION,
                "student": self.config.model_dump(),
                "pretrain": self.pretrain.model_dump(),
                "domain": domain.name,
                "mix": mix,
                "seed": seed,
                "exclude": fingerprint(sorted(exclude_prompts)),
                # A base pretrained with other numerics is another student (numerics.py).
                "numerics": numerics_key(),
            }
        )

    def base_student(self, domain: Domain, *, seed: int, exclude_prompts: set[str]) -> BaseStudent:
        config = self.config.model_copy(update={"seed": seed})
        student = TinyStudent(config)
        root = self.cache_root or cache_dir() / "students"
        target = root / f"{domain.name}-{self._key(domain, seed, exclude_prompts)}"
        if not isinstance(domain, ProceduralDomain):
            raise ConfigError(
                f"domain {domain.name!r} has no procedural generator to pretrain a tiny "
                "student on; use a Hugging Face student (student: hf in the config) or a "
                "built-in domain"
            )
        data = pretraining_data(domain, self.pretrain.examples, seed, exclude_prompts)
        if (target / "model.pt").exists():
            student.load(target)
            return BaseStudent(student, target, data, cached=True)
        student.progress = self.on_pretrain_progress
        stats = student.fit(data, steps=self.pretrain.steps, seed=seed, lr=config.pretrain_lr)
        student.progress = None
        # Write to a temporary folder and rename, so a crash never leaves half a checkpoint.
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
        student.save(staging)
        (staging / "pretrain.json").write_text(
            json.dumps({"examples": len(data), **stats.model_dump()}, indent=2)
        )
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
        return BaseStudent(student, target, data, cached=False)
