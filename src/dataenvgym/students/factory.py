"""Base students of procedural domains: pretrained on a skewed mix, cached on disk.

The cache key covers everything that defines the student's training data: the student and
pretraining settings, the domain's name, declared ``version`` and pretraining mix, and a
fingerprint of a fixed sample of the domain's generated data, so that a changed generator
rebuilds the base student even when its names and splits stay the same. Pretraining data
pass the domain's own ``verify`` first; rejected data are dropped and counted, and more than
:data:`MAX_PRETRAIN_DROP` of them is an error.
"""

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
from dataenvgym.protocols import BaseStudent, BatchDomain, Domain, ProceduralDomain, TextLimits
from dataenvgym.students.tiny import _CHARS, TinyStudent, TinyStudentConfig
from dataenvgym.types import TrainingDatum

#: Bump when pretraining changes in a way the cache key does not capture.
RECIPE_VERSION = 2
#: Data drawn per subskill (with a fixed seed) for the generator fingerprint of the cache key.
FINGERPRINT_SAMPLE = 4
#: Largest share of pretraining data the domain's own verify may reject.
MAX_PRETRAIN_DROP = 0.05
#: Pretraining data verified at most where verification is a batch run (code runs in a
#: sandbox: every datum would cost minutes); drawn evenly over the data.
BATCH_VERIFY_SAMPLE = 256


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


def generator_fingerprint(domain: Domain, seed: int) -> dict[str, str]:
    """The domain's declared version and a hash of a fixed sample of its generated data.

    Part of every base student's cache key: a generator whose output changes gives another
    key, so the stale student is not loaded.
    """
    version = str(getattr(domain, "version", "0"))
    if not isinstance(domain, ProceduralDomain):
        return {"version": version, "sample": ""}
    sample = []
    for skill in domain.skills():
        for subskill in sorted(skill.subskills):
            rng = random.Random(f"fingerprint:{seed}:{skill.name}/{subskill}")
            for d in domain.generate(skill.name, subskill, FINGERPRINT_SAMPLE, rng):
                sample.append([d.id, d.prompt, d.response, d.skill, d.subskill, d.metadata])
    return {"version": version, "sample": fingerprint(sample)}


def verify_pretraining(
    domain: Domain, data: list[TrainingDatum], known_drops: list[str] | None = None
) -> tuple[list[TrainingDatum], list[str]]:
    """Drop the pretraining data the domain's own ``verify`` rejects.

    Args:
        domain: Supplies the verifier.
        data: The pretraining data.
        known_drops: Ids dropped when this base student was made (a cached one): dropped
            again without verifying.

    Returns:
        The kept data and the ids of the dropped ones.

    Raises:
        ConfigError: more than :data:`MAX_PRETRAIN_DROP` of the verified data are rejected.
    """
    if known_drops is not None:
        dropped = set(known_drops)
        return [d for d in data if d.id not in dropped], list(known_drops)
    if isinstance(domain, BatchDomain):
        stride = max(1, -(-len(data) // BATCH_VERIFY_SAMPLE))
        checked = data[::stride]
        verdicts = domain.verify_many(checked)
    else:
        checked = data
        verdicts = [domain.verify(d) for d in data]
    rejected = [(d, v) for d, v in zip(checked, verdicts, strict=True) if v is not None]
    if checked and len(rejected) > MAX_PRETRAIN_DROP * len(checked):
        datum, reason = rejected[0]
        raise ConfigError(
            f"domain {domain.name!r}: generate: its own verify rejects {len(rejected)} of "
            f"{len(checked)} pretraining data (more than {MAX_PRETRAIN_DROP:.0%}); first: item "
            f"{datum.id} {datum.prompt[:40]!r}: {reason}; fix the generator or the verifier"
        )
    ids = {d.id for d, _ in rejected}
    return [d for d in data if d.id not in ids], sorted(ids)


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

    def text_limits(self) -> TextLimits:
        """What the tiny student reads and writes: printable ASCII, within its config's sizes.

        A training example is BOS + prompt + SEP + answer + EOS, so prompt + answer may take
        ``max_len - 3`` characters; an answer at most ``max_new_tokens``.
        """
        return TextLimits(
            student=self.name,
            max_response=self.config.max_new_tokens,
            max_total=self.config.max_len - 3,
            alphabet=frozenset(_CHARS),
        )

    def _key(self, domain: Domain, seed: int, exclude_prompts: set[str]) -> str:
        mix = domain.pretraining_mix() if isinstance(domain, ProceduralDomain) else None
        return fingerprint(
            {
                "recipe": RECIPE_VERSION,
                # Pretraining never averages (see base_student), so a base is shared by
                # students that differ only in how their episode fits end.
                "student": self.config.model_dump(exclude={"average_last"}),
                "pretrain": self.pretrain.model_dump(),
                "domain": domain.name,
                "mix": mix,
                # What the domain generates: a changed generator is another base student.
                "generator": generator_fingerprint(domain, seed),
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
            data, _ = verify_pretraining(domain, data, saved_drops(target))
            student.load(target)
            return BaseStudent(student, target, data, cached=True)
        data, dropped = verify_pretraining(domain, data)
        student.progress = self.on_pretrain_progress
        # The base student is the same whatever ``average_last`` its episodes use, so that
        # students that differ only in it start from one base and a comparison is paired.
        stats = student.fit(
            data, steps=self.pretrain.steps, seed=seed, lr=config.pretrain_lr, average_last=0.0
        )
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


def saved_drops(target: Path) -> list[str] | None:
    """The pretraining data a cached base student was made without (None: unknown)."""
    try:
        saved = json.loads((target / "pretrain.json").read_text())
    except (OSError, ValueError):
        return None
    drops = saved.get("dropped_ids")
    return list(drops) if isinstance(drops, list) else None
