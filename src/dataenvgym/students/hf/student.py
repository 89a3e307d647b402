"""A ``transformers`` causal LM with a LoRA adapter as the student.

Only the adapter trains; the base model stays frozen, so a checkpoint is the adapter alone
(megabytes, not gigabytes) and restarting from the base is loading the initial adapter.
Training is a plain loop — batches drawn with replacement, AdamW with warm-up and linear
decay, loss on the response tokens only — because the Trainer protocol asks for exactly
``steps`` optimiser steps per call, which a plain loop says directly. Answers are greedy,
generated in left-padded batches of similar length, and stop at EOS, at end-of-turn tokens
or at the domain's stop strings.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dataenvgym.students.hf.config import HFStudentConfig
from dataenvgym.students.hf.formatting import ChatFormat, TrainingExample, cut_at_stop
from dataenvgym.types import TaskInstance, TrainingDatum, TrainStats

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from dataenvgym.students.hf.vllm_backend import VLLMBackend

ProgressCallback = Callable[[int, float], None]

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
STUDENT_INFO = "student.json"


def lora_config(config: HFStudentConfig) -> Any:
    """The ``peft.LoraConfig`` of ``config.lora``."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type=TaskType.CAUSAL_LM,
    )


def fresh_adapter_state(model: PeftModel, seed: int) -> dict[str, torch.Tensor]:
    """A new adapter, drawn from ``seed``: A Kaiming-uniform, B zero (so it starts as the base).

    Drawing it ourselves from a private generator makes the base student's adapter depend on
    the seed alone, not on what else consumed the global RNG before.
    """
    from peft import get_peft_model_state_dict

    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, tensor in sorted(get_peft_model_state_dict(model).items()):
        fresh = torch.zeros(tensor.shape, dtype=torch.float32)
        if "lora_A" in name:
            # peft's default init: kaiming_uniform_(a=sqrt(5)) => bound = 1/sqrt(fan_in).
            bound = 1.0 / math.sqrt(tensor.shape[1])
            fresh.uniform_(-bound, bound, generator=generator)
        elif "lora_embedding_B" in name:
            # Embedding adapters are the other way round: A starts at zero, B is normal.
            fresh.normal_(generator=generator)
        state[name] = fresh.to(tensor.dtype)
    return state


class HFStudent:
    """The :class:`~dataenvgym.protocols.Student` over a ``transformers`` model with LoRA.

    Args:
        model: The base model already wrapped by ``peft.get_peft_model``.
        tokenizer: Its tokenizer (left padding, a pad token: see ``load_tokenizer``).
        config: Training and decoding settings.
        base_folder: Where the base model came from (a vLLM engine loads the same base).
    """

    def __init__(
        self,
        model: PeftModel,
        tokenizer: PreTrainedTokenizerBase,
        config: HFStudentConfig,
        *,
        base_folder: str | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        # Batched generation needs left padding: the first new token follows the prompt's last.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.config = config
        self.base_folder = base_folder
        self.format = ChatFormat(tokenizer, config.chat_template, config.system_prompt)
        generation_eos = getattr(model.generation_config, "eos_token_id", None)
        self.stop_ids = self.format.stop_token_ids(generation_eos)
        self.progress: ProgressCallback | None = None
        self.device = next(model.parameters()).device
        self._vllm: VLLMBackend | None = None
        self._version = 0  # bumped whenever the adapter changes (vLLM reloads it then)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()

    @classmethod
    def from_base(
        cls,
        base: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: HFStudentConfig,
        *,
        seed: int,
        base_folder: str | None = None,
    ) -> HFStudent:
        """Wrap a plain model with a fresh LoRA adapter drawn from ``seed``."""
        from peft import get_peft_model, set_peft_model_state_dict

        with warnings.catch_warnings():
            # peft asks transformers 5 about gradient checkpointing by a deprecated name.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            peft_model = get_peft_model(base, lora_config(config))
        set_peft_model_state_dict(peft_model, fresh_adapter_state(peft_model, seed))
        peft_model.eval()
        return cls(peft_model, tokenizer, config, base_folder=base_folder)

    # ------------------------------------------------------------------ training

    def _batch(self, examples: Sequence[TrainingExample]) -> dict[str, torch.Tensor]:
        """Right-padded ids, attention mask and labels (-100 outside the response)."""
        width = max(len(e.ids) for e in examples)
        pad = int(self.tokenizer.pad_token_id or 0)
        ids = torch.full((len(examples), width), pad, dtype=torch.long)
        mask = torch.zeros((len(examples), width), dtype=torch.long)
        labels = torch.full((len(examples), width), -100, dtype=torch.long)
        for row, example in enumerate(examples):
            seq = torch.tensor(example.ids, dtype=torch.long)
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
            labels[row, example.response_start : len(seq)] = seq[example.response_start :]
        return {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "labels": labels.to(self.device),
        }

    #: Passes over the data a trainer asks for when its config sets none: a pretrained model
    #: with a LoRA adapter needs few (3 passes over 384 examples at batch 8 are 144 steps).
    default_epochs = 3.0

    def examples_per_step(self, num_data: int) -> int:
        """Examples one optimiser step draws: micro-batch (capped by the data) x accumulation."""
        return max(1, min(self.config.batch_size, num_data)) * self.config.grad_accumulation

    def fit(
        self, data: Sequence[TrainingDatum], *, steps: int, seed: int, lr: float | None = None
    ) -> TrainStats:
        """Train the adapter for ``steps`` AdamW steps on batches drawn with replacement.

        Each step accumulates ``grad_accumulation`` micro-batches of ``batch_size``; the
        learning rate warms up, then decays linearly to a tenth of its peak.
        """
        started = time.perf_counter()
        if steps <= 0 or not data:
            return TrainStats(steps=0, examples_seen=0, final_loss=float("nan"), seconds=0.0)
        cfg = self.config
        examples = [
            self.format.training_example(d.prompt, d.response, cfg.max_length) for d in data
        ]
        examples = [e for e in examples if e.response_start < len(e.ids)]
        if not examples:
            raise ValueError("every training example lost its response to max_length")
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # LoRA dropout draws from the global generator
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=lr or cfg.lr, weight_decay=cfg.weight_decay)
        warmup = max(1, int(steps * cfg.warmup_fraction))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 1.0 - 0.9 * (step - warmup) / max(1, steps - warmup)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        batch_size = min(cfg.batch_size, len(examples))
        smoothed = math.nan
        self.model.train()
        try:
            for step in range(steps):
                total = 0.0
                for _ in range(cfg.grad_accumulation):
                    rows = torch.randint(len(examples), (batch_size,), generator=generator)
                    batch = self._batch([examples[r] for r in rows.tolist()])
                    loss = self.model(**batch).loss / cfg.grad_accumulation
                    loss.backward()
                    total += float(loss.item())
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                smoothed = total if math.isnan(smoothed) else 0.9 * smoothed + 0.1 * total
                if self.progress is not None:
                    self.progress(step + 1, smoothed)
        finally:
            self.model.eval()
            self._version += 1
        return TrainStats(
            steps=steps,
            examples_seen=steps * batch_size * cfg.grad_accumulation,
            final_loss=smoothed,
            seconds=time.perf_counter() - started,
        )

    @torch.no_grad()
    def loss(self, data: Sequence[TrainingDatum]) -> float:
        """Mean response-token loss on ``data`` (no training; for checks and diagnostics)."""
        cfg = self.config
        examples = [
            self.format.training_example(d.prompt, d.response, cfg.max_length) for d in data
        ]
        self.model.eval()
        total, tokens = 0.0, 0
        for start in range(0, len(examples), cfg.batch_size):
            batch = self._batch(examples[start : start + cfg.batch_size])
            count = int((batch["labels"][:, 1:] != -100).sum())
            total += float(self.model(**batch).loss) * count
            tokens += count
        return total / max(tokens, 1)

    # ------------------------------------------------------------------ answering

    def predict(self, instances: Sequence[TaskInstance]) -> list[str]:
        """Greedy answers, each capped and stopped by its domain's settings."""
        answers = [""] * len(instances)
        groups: dict[str, list[int]] = defaultdict(list)
        for index, instance in enumerate(instances):
            groups[instance.domain].append(index)
        for domain, indices in groups.items():
            texts = self.generate(
                [instances[i].prompt for i in indices],
                max_new_tokens=self.config.max_new_tokens_for(domain),
                stop=self.config.stop_for(domain),
            )
            for index, text in zip(indices, texts, strict=True):
                answers[index] = text
        return answers

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: list[str]
    ) -> list[str]:
        """Greedy continuations of raw prompts (formatted as in training)."""
        texts = [self.format.prompt_text(p) for p in prompts]
        if self._use_vllm():
            assert self._vllm is not None
            raw = self._vllm.generate(
                texts, self, max_new_tokens=max_new_tokens, stop=stop, version=self._version
            )
        else:
            raw = self._generate_transformers(texts, max_new_tokens, stop)
        return [cut_at_stop(text.lstrip(), stop).strip() for text in raw]

    @torch.no_grad()
    def _generate_transformers(
        self, texts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[str]:
        from transformers import GenerationConfig

        self.model.eval()
        generation = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=stop or None,
        )
        encoded = [
            self.tokenizer(t, add_special_tokens=self.format.add_special_tokens())["input_ids"]
            for t in texts
        ]
        # Similar lengths together: less padding, and left padding keeps the last prompt
        # token next to the first generated one.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out = [""] * len(texts)
        for start in range(0, len(order), self.config.eval_batch_size):
            chunk = order[start : start + self.config.eval_batch_size]
            batch = self.tokenizer.pad(
                {"input_ids": [encoded[i] for i in chunk]}, padding=True, return_tensors="pt"
            ).to(self.device)
            generated = self.model.generate(
                **batch,
                generation_config=generation,
                tokenizer=self.tokenizer if stop else None,
            )
            new_tokens = generated[:, batch["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for index, text in zip(chunk, decoded, strict=True):
                out[index] = text
        return out

    def _use_vllm(self) -> bool:
        if self.config.inference == "transformers":
            return False
        if self._vllm is None:
            from dataenvgym.students.hf.vllm_backend import VLLMBackend, vllm_usable

            if self.config.inference == "auto" and not vllm_usable():
                return False
            self._vllm = VLLMBackend(self.base_folder or self.config.model, self.config)
        return True

    # ------------------------------------------------------------------ checkpoints

    def save(self, directory: Path) -> None:
        """Write the adapter (``adapter_model.safetensors`` + config) and ``student.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory))
        info = {"config": self.config.model_dump(mode="json"), "base_folder": self.base_folder}
        (directory / STUDENT_INFO).write_text(json.dumps(info, indent=2))

    def load(self, directory: Path) -> None:
        """Load an adapter written by :meth:`save`; it stays trainable (``continue``)."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        saved = json.loads((directory / ADAPTER_CONFIG).read_text())
        mine = self.config.lora
        if saved.get("r") != mine.r or saved.get("lora_alpha") != mine.alpha:
            raise ValueError(
                f"adapter {directory} has r={saved.get('r')}, alpha={saved.get('lora_alpha')}; "
                f"this student uses r={mine.r}, alpha={mine.alpha}"
            )
        weights = load_file(str(directory / ADAPTER_WEIGHTS), device=str(self.device))
        result = set_peft_model_state_dict(self.model, weights)
        missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k]
        if missing:
            raise ValueError(
                f"adapter {directory} lacks {len(missing)} LoRA weights, e.g. {missing[0]}"
            )
        self.model.eval()
        self._version += 1

    def save_adapter(self, directory: Path) -> None:
        """Keep this iteration's adapter in the run folder (see ``AdapterStudent``)."""
        self.save(directory)

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)
