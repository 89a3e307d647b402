"""Hugging Face students: any ``transformers`` causal LM, fine-tuned with a LoRA adapter.

Needs the ``[hf]`` extra (``transformers``, ``peft``); inference through vLLM with the
``[vllm]`` extra on a CUDA GPU. Importing this package loads neither torch-heavy library:
they are imported when a student is built.
"""

from __future__ import annotations

from dataenvgym.students.hf.config import PACKAGED_SMOLLM2, HFStudentConfig, LoraSettings
from dataenvgym.students.hf.factory import HFStudentFactory

__all__ = ["PACKAGED_SMOLLM2", "HFStudentConfig", "HFStudentFactory", "LoraSettings"]
