"""The base student of a Hugging Face model: the pretrained LM with a fresh LoRA adapter.

There is no pretraining stage: the base model *is* the pretrained student. The base
checkpoint is the seed's fresh adapter, saved in the cache, so ``retrain`` (restart from the
base each iteration, the paper's default) loads it back, and ``continue`` keeps training the
adapter it has. The base model is loaded once per factory and reused by later resets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from dataenvgym.cache import cache_dir, fingerprint
from dataenvgym.protocols import BaseStudent, Domain
from dataenvgym.students.hf.config import HFStudentConfig
from dataenvgym.students.hf.student import ADAPTER_WEIGHTS, HFStudent, fresh_adapter_state

#: Bump when the initial adapter changes in a way the cache key does not capture.
RECIPE_VERSION = 1


class HFStudentFactory:
    """The :class:`~dataenvgym.protocols.StudentFactory` of Hugging Face students.

    Args:
        config: Which model, its adapter, training and decoding.
        cache_root: Where base adapters go (default ``<cache>/students``).
    """

    name = "hf"

    def __init__(self, config: HFStudentConfig | None = None, *, cache_root: Path | None = None):
        self.config = config or HFStudentConfig()
        self.cache_root = cache_root
        self._student: HFStudent | None = None

    def _key(self, seed: int) -> str:
        cfg = self.config
        return fingerprint(
            {
                "recipe": RECIPE_VERSION,
                "model": cfg.model,
                "revision": cfg.revision,
                "gguf_file": cfg.gguf_file,
                "lora": cfg.lora.model_dump(),
                "seed": seed,
            }
        )

    def student(self, seed: int = 0) -> HFStudent:
        """The student object (loading the base model on first use); its adapter as it is."""
        if self._student is None:
            from dataenvgym.students.hf.loading import load_base_model

            base, tokenizer, folder = load_base_model(self.config)
            self._student = HFStudent.from_base(
                base, tokenizer, self.config, seed=seed, base_folder=folder
            )
        return self._student

    def base_student(self, domain: Domain, *, seed: int, exclude_prompts: set[str]) -> BaseStudent:
        """The base model with the seed's fresh adapter (``domain`` and prompts do not matter:
        nothing is trained before the episode)."""
        from peft import set_peft_model_state_dict

        student = self.student(seed)
        root = self.cache_root or cache_dir() / "students"
        target = root / f"hf-{self._key(seed)}"
        if (target / ADAPTER_WEIGHTS).is_file():
            student.load(target)
            return BaseStudent(student, target, [], cached=True)
        set_peft_model_state_dict(student.model, fresh_adapter_state(student.model, seed))
        student.model.eval()
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
        student.save(staging)
        try:
            os.replace(staging, target)
        except OSError:  # another process saved it first: theirs is the same adapter
            shutil.rmtree(staging, ignore_errors=True)
        student.load(target)
        return BaseStudent(student, target, [], cached=False)
