"""Base students for VQA: the built-in CNN student pretrained on a skewed mix, cached on disk.

For the built-in VQA domain the mix is the domain's own. For a VQA domain without
generators (easy-vqa, GQA) the base student is pretrained on the built-in domain's scenes
instead: it meets the other data set's images for the first time at evaluation.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from dataenvgym.cache import cache_dir, fingerprint
from dataenvgym.domains.vqa.domain import VQADomain
from dataenvgym.numerics import numerics_key
from dataenvgym.protocols import BaseStudent, Domain, ProceduralDomain
from dataenvgym.students.factory import (
    generator_fingerprint,
    pretraining_data,
    saved_drops,
    verify_pretraining,
)
from dataenvgym.students.vqa import VQAStudent, VQAStudentConfig

#: Bump when pretraining changes in a way the cache key does not capture.
RECIPE_VERSION = 1


class VQAPretrainConfig(BaseModel):
    """How the base VQA student is pretrained."""

    steps: int = Field(default=2000, ge=0, description="Optimiser steps of pretraining.")
    examples: int = Field(default=12_000, ge=1, description="Size of the pretraining set.")


class VQAStudentFactory:
    """A :class:`~dataenvgym.protocols.StudentFactory` for :class:`VQAStudent`."""

    name = "tiny-vqa"

    def __init__(
        self,
        config: VQAStudentConfig | None = None,
        pretrain: VQAPretrainConfig | None = None,
        *,
        cache_root: Path | None = None,
        on_pretrain_progress: Callable[[int, float], None] | None = None,
    ) -> None:
        self.config = config or VQAStudentConfig()
        self.pretrain = pretrain or VQAPretrainConfig()
        self.cache_root = cache_root
        self.on_pretrain_progress = on_pretrain_progress

    def base_student(self, domain: Domain, *, seed: int, exclude_prompts: set[str]) -> BaseStudent:
        source = domain if isinstance(domain, ProceduralDomain) else VQADomain()
        key = fingerprint(
            {
                "recipe": RECIPE_VERSION,
                "student": self.config.model_dump(mode="json"),
                "pretrain": self.pretrain.model_dump(),
                "domain": domain.name,
                "source": source.name,
                "mix": source.pretraining_mix(),
                # What the domain generates: a changed generator is another base student.
                "generator": generator_fingerprint(source, seed),
                "seed": seed,
                "exclude": fingerprint(sorted(exclude_prompts)),
                # A base pretrained with other numerics is another student (numerics.py).
                "numerics": numerics_key(),
            }
        )
        root = self.cache_root or cache_dir() / "students"
        target = root / f"{domain.name}-vqa-{key}"
        student = VQAStudent(self.config.model_copy(update={"seed": seed}))
        data = pretraining_data(source, self.pretrain.examples, seed, exclude_prompts)
        if (target / "model.pt").exists():
            data, _ = verify_pretraining(source, data, saved_drops(target))
            student.load(target)
            return BaseStudent(student, target, data, cached=True)
        data, dropped = verify_pretraining(source, data)
        student.progress = self.on_pretrain_progress
        stats = student.fit(data, steps=self.pretrain.steps, seed=seed, lr=self.config.pretrain_lr)
        student.progress = None
        # Write to a temporary folder and rename, so a crash never leaves half a checkpoint.
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
        student.save(staging)
        (staging / "pretrain.json").write_text(
            json.dumps(
                {"examples": len(data), "dropped_ids": dropped, **stats.model_dump()}, indent=2
            )
        )
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
        return BaseStudent(student, target, data, cached=False)
