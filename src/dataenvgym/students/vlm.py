"""A vision-language student: any ``transformers`` image-text-to-text model, tuned with LoRA.

PaliGemma-style: the image and a short prompt (``answer en <question>``) go in, the answer
comes out. Only LoRA adapters train (via ``peft``), so a step fits on one GPU for real
models, and a tiny random model built from a config trains on a CPU in a unit test. Needs
the ``hf`` extra: ``pip install 'dataenvgym[hf]'``.

The loss covers the answer tokens only: each example is the processor's encoding of
(image, prompt) followed by the answer's tokens and EOS, with the prompt positions masked.
Models that mark the answer span with ``token_type_ids`` (PaliGemma's prefix-LM) get them.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field

from dataenvgym.cache import cache_dir, fingerprint
from dataenvgym.domains.vqa.images import load_image, split_prompt
from dataenvgym.errors import ConfigError
from dataenvgym.protocols import BaseStudent, Domain
from dataenvgym.types import TaskInstance, TrainingDatum, TrainStats

ProgressCallback = Callable[[int, float], None]


class VLMStudentConfig(BaseModel):
    """Which vision-language model, its LoRA adapter and how it trains."""

    model: str = Field(
        default="google/paligemma2-3b-pt-224",
        description="HF id or local folder of an image-text-to-text model and its processor.",
    )
    prompt_template: str = Field(
        default="answer en {question}", description="Text given with the image."
    )
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list[str] | str = Field(
        default="all-linear", description="LoRA targets: module names or 'all-linear'."
    )
    lr: float = 2e-4
    batch_size: int = 8
    eval_batch_size: int = 16
    max_new_tokens: int = 8
    device: str = Field(default="auto", description="'auto' (CUDA when present), 'cpu', 'cuda'.")
    dtype: str = Field(default="auto", description="'auto' (bf16 on CUDA, fp32 on CPU) or a name.")
    seed: int = 0


def _require_hf() -> None:
    try:
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:
        raise ConfigError("the VLM student needs: pip install 'dataenvgym[hf]'") from err


class VLMStudent:
    """A :class:`~dataenvgym.protocols.Student` over a LoRA-wrapped vision-language model.

    Args:
        config: Model, adapter and training settings.
        model: An already built model (skips loading ``config.model``), e.g. in tests.
        processor: Its processor (needed with ``model``).
    """

    def __init__(
        self, config: VLMStudentConfig | None = None, *, model: Any = None, processor: Any = None
    ) -> None:
        _require_hf()
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.config = config or VLMStudentConfig()
        torch.manual_seed(self.config.seed)
        cuda = torch.cuda.is_available()
        self.device = torch.device(
            ("cuda" if cuda else "cpu") if self.config.device == "auto" else self.config.device
        )
        dtype = self.config.dtype
        torch_dtype = (
            (torch.bfloat16 if self.device.type == "cuda" else torch.float32)
            if dtype == "auto"
            else getattr(torch, dtype)
        )
        self.processor = processor or AutoProcessor.from_pretrained(self.config.model)
        base = model or AutoModelForImageTextToText.from_pretrained(
            self.config.model, dtype=torch_dtype
        )
        lora = LoraConfig(
            r=self.config.lora_r,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=self.config.target_modules,
        )
        self.model = get_peft_model(base, lora).to(self.device)
        self.model.eval()
        self.tokenizer = self.processor.tokenizer
        self.progress: ProgressCallback | None = None

    # ------------------------------------------------------------------ encoding

    def _prompt(self, prompt: str) -> str:
        _, question = split_prompt(prompt)
        return self.config.prompt_template.format(question=question)

    def _train_batch(self, data: Sequence[TrainingDatum]) -> dict[str, torch.Tensor]:
        """Prompt (with image) then answer + EOS; labels only on the answer."""
        rows: list[dict[str, Any]] = []
        for datum in data:
            encoded = self.processor(
                images=[load_image(datum.metadata)],
                text=[self._prompt(datum.prompt)],
                return_tensors="pt",
            )
            prompt_ids = encoded["input_ids"][0][encoded["attention_mask"][0].bool()]
            answer_ids = self.tokenizer(
                datum.response + self.tokenizer.eos_token, add_special_tokens=False
            )["input_ids"]
            rows.append(
                {
                    "prompt": prompt_ids.tolist(),
                    "answer": list(answer_ids),
                    "pixel_values": encoded["pixel_values"][0],
                    "typed": "token_type_ids" in encoded,
                }
            )
        width = max(len(r["prompt"]) + len(r["answer"]) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        batch = {
            "input_ids": torch.full((len(rows), width), pad, dtype=torch.long),
            "attention_mask": torch.zeros((len(rows), width), dtype=torch.long),
            "labels": torch.full((len(rows), width), -100, dtype=torch.long),
        }
        token_types = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids = row["prompt"] + row["answer"]
            batch["input_ids"][i, : len(ids)] = torch.tensor(ids)
            batch["attention_mask"][i, : len(ids)] = 1
            batch["labels"][i, len(row["prompt"]) : len(ids)] = torch.tensor(row["answer"])
            token_types[i, len(row["prompt"]) : len(ids)] = 1
        if rows[0]["typed"]:
            batch["token_type_ids"] = token_types
        batch["pixel_values"] = torch.stack([r["pixel_values"] for r in rows])
        return batch

    # ------------------------------------------------------------------ protocol

    #: Passes over the data a trainer asks for when its config sets none (a pretrained
    #: model with a LoRA adapter needs few).
    default_epochs = 3.0

    def examples_per_step(self, num_data: int) -> int:
        """Examples one step of :meth:`fit` draws: the batch size, or all data if fewer."""
        return max(1, min(self.config.batch_size, num_data))

    def fit(self, data: Sequence[TrainingDatum], *, steps: int, seed: int) -> TrainStats:
        """``steps`` AdamW steps on random batches; only the LoRA weights change."""
        started = time.perf_counter()
        if steps <= 0 or not data:
            return TrainStats(steps=0, examples_seen=0, final_loss=float("nan"), seconds=0.0)
        rng = random.Random(seed)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=self.config.lr)
        batch_size = min(self.config.batch_size, len(data))
        self.model.train()
        smoothed = math.nan
        for step in range(steps):
            batch = self._train_batch([rng.choice(data) for _ in range(batch_size)])
            pixel_dtype = next(self.model.parameters()).dtype
            inputs = {k: v.to(self.device) for k, v in batch.items()}
            inputs["pixel_values"] = inputs["pixel_values"].to(pixel_dtype)
            loss = self.model(**inputs).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            value = float(loss.item())
            smoothed = value if math.isnan(smoothed) else 0.9 * smoothed + 0.1 * value
            if self.progress is not None:
                self.progress(step + 1, smoothed)
        self.model.eval()
        return TrainStats(
            steps=steps,
            examples_seen=steps * batch_size,
            final_loss=smoothed,
            seconds=time.perf_counter() - started,
        )

    @torch.no_grad()
    def predict(self, instances: Sequence[TaskInstance]) -> list[str]:
        """Greedy answers, decoded after the prompt, stripped."""
        self.model.eval()
        self.tokenizer.padding_side = "left"  # generation continues at the right end
        answers: list[str] = []
        step = self.config.eval_batch_size
        for start in range(0, len(instances), step):
            chunk = instances[start : start + step]
            inputs = self.processor(
                images=[load_image(i.metadata) for i in chunk],
                text=[self._prompt(i.prompt) for i in chunk],
                return_tensors="pt",
                padding=True,
            ).to(self.device)
            inputs["pixel_values"] = inputs["pixel_values"].to(next(self.model.parameters()).dtype)
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            new = out[:, inputs["input_ids"].shape[1] :]
            answers.extend(
                t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)
            )
        return answers

    def save(self, directory: Path) -> None:
        """Write the LoRA adapter and ``student.json`` (the base model is not copied)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory))
        (directory / "student.json").write_text(self.config.model_dump_json(indent=2))

    def load(self, directory: Path) -> None:
        """Restore adapter weights written by :meth:`save`."""
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        weights = load_peft_weights(str(directory), device=str(self.device))
        set_peft_model_state_dict(self.model, weights)
        self.model.eval()


class VLMStudentFactory:
    """A :class:`~dataenvgym.protocols.StudentFactory`: the pretrained VLM with a fresh adapter.

    The model is already pretrained, so the base student is the model as loaded; its
    (untrained) adapter is saved so that ``retrain`` can restart from it.
    """

    name = "hf-vlm"

    def __init__(
        self, config: VLMStudentConfig | None = None, *, cache_root: Path | None = None
    ) -> None:
        self.config = config or VLMStudentConfig()
        self.cache_root = cache_root

    def base_student(self, domain: Domain, *, seed: int, exclude_prompts: set[str]) -> BaseStudent:
        student = VLMStudent(self.config.model_copy(update={"seed": seed}))
        key = fingerprint({"student": self.config.model_dump(mode="json"), "seed": seed})
        target = (self.cache_root or cache_dir() / "students") / f"{domain.name}-vlm-{key}"
        if (target / "student.json").exists():
            student.load(target)
            return BaseStudent(student, target, [], cached=True)
        student.save(target)
        (target / "base.json").write_text(json.dumps({"model": self.config.model}))
        return BaseStudent(student, target, [], cached=False)
