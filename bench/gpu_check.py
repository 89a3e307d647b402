"""A prepared check of the Hugging Face student path on a GPU (and its CPU dry run).

It builds a Llama-style causal LM from a config (random weights; about 150 M parameters on a
GPU, about 0.1 M in the dry run) with a character-level tokenizer, runs a short Skill-Tree
episode on the built-in arithmetic domain with that model as an HF student (LoRA, bfloat16 on
the GPU), then measures batched generation. It writes ``gpu_check.json`` to ``--out``
(default ``$OUT``, else ``./out``): the device and dtype the student actually ran in, training
tokens/s, model FLOPs utilisation against the GPU's dense bfloat16 peak, peak GPU memory,
evaluation items/s, and whether the training loss fell. The point is the path and its speed,
not the accuracy: the model starts from random weights.

    python bench/gpu_check.py             # a GPU if there is one, else the dry run
    python bench/gpu_check.py --dry-run   # the tiny CPU configuration

``scripts/gpu-check.sh`` installs the project from carried wheels first (docs/gpu-check.md).
Model FLOPs per trained token are counted as 4 × (frozen parameters) + 6 × (LoRA parameters):
a forward pass (2 per parameter) and the backward pass through the frozen weights (2 more:
gradients of activations only); the LoRA weights also get weight gradients. Attention's
sequence-length term is left out (sequences here are ~20 tokens).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from dataenvgym.config import RunConfig
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import EpisodeHooks, run_episode

#: Dense bfloat16 tensor-core peaks (TFLOP/s, no sparsity) by a substring of the device name;
#: the first match wins, so the more specific names come first.
BF16_PEAK_TFLOPS: list[tuple[str, float]] = [
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM (e.g. "NVIDIA H100 80GB HBM3")
    ("H800", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
]

#: Llama-style model shapes: ~150 M parameters on a GPU, a toy for the CPU dry run.
MODEL_SHAPES: dict[str, dict[str, int]] = {
    "gpu": {
        "hidden_size": 1024,
        "intermediate_size": 2816,
        "num_hidden_layers": 12,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
    },
    "dry-run": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
}

#: Episode and measurement settings of each mode.
SETTINGS: dict[str, dict[str, Any]] = {
    "gpu": {
        "iterations": 2,
        "budget": 1024,
        "steps": 120,
        "batch_size": 128,
        "eval_batch_size": 512,
        "per_subskill": 40,
        "eval_items": 2048,
        "lr": 1e-3,
    },
    "dry-run": {
        "iterations": 1,
        "budget": 48,
        "steps": 8,
        "batch_size": 16,
        "eval_batch_size": 64,
        "per_subskill": 3,
        "eval_items": 64,
        "lr": 5e-3,
    },
}


def peak_bf16_tflops(device_name: str) -> float | None:
    """The dense bfloat16 peak of a GPU named ``device_name``, if known."""
    for key, tflops in BF16_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def build_tokenizer() -> Any:
    """A character-level tokenizer (printable ASCII and newline) with BOS, EOS and padding."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    vocab = {token: index for index, token in enumerate(specials + chars)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


def build_model_folder(folder: Path, shape: dict[str, Any], seed: int) -> int:
    """Save a randomly initialised Llama-style model and its tokenizer; return its size."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **shape,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def run_check(out: Path, *, dry_run: bool, seed: int = 0) -> dict[str, Any]:
    """Run the check and write ``out/gpu_check.json``; return what it wrote."""
    mode = "dry-run" if dry_run else "gpu"
    settings = SETTINGS[mode]
    cuda = torch.cuda.is_available() and not dry_run
    started = time.perf_counter()
    model_dir = Path(tempfile.mkdtemp(prefix="gpu-check-model-"))
    parameters = build_model_folder(model_dir, MODEL_SHAPES[mode], seed)
    per_subskill = settings["per_subskill"]
    config = RunConfig(
        env="skill-tree",
        domain="arithmetic",
        agent="no-state",
        student="hf",
        seed=seed,
        iterations=settings["iterations"],
        budget=settings["budget"],
        test_every_iteration=False,
        trainer={"steps_per_iteration": settings["steps"]},  # type: ignore[arg-type]
        student_config={
            "model": str(model_dir),
            "device": "cuda" if cuda else "cpu",
            "dtype": "bfloat16" if cuda else "float32",
            "inference": "transformers",
            "chat_template": "never",
            "batch_size": settings["batch_size"],
            "eval_batch_size": settings["eval_batch_size"],
            "lr": settings["lr"],
            "max_length": 64,
            "lora": {"r": 16, "alpha": 32, "target_modules": "all-linear"},
        },
        domain_config={"val_per_subskill": per_subskill, "test_per_subskill": per_subskill},
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    env = make_env(**config.env_kwargs())
    teacher_env: Any = env.unwrapped
    agent = make_agent(config.agent, config.env, teacher_env.domain)
    probe = teacher_env.domain.generate("addition", "carry", 64, random.Random(f"probe:{seed}"))
    tokens = {"real": 0, "padded": 0}
    losses: dict[str, float] = {}

    def count_tokens(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if module.training and "attention_mask" in kwargs:
            tokens["real"] += int(kwargs["attention_mask"].sum())
            tokens["padded"] += int(kwargs["attention_mask"].numel())

    def before_training(iteration: int) -> None:
        if iteration == 1:
            student = teacher_env.student
            losses["before"] = student.loss(probe)
            student.model.register_forward_pre_hook(count_tokens, with_kwargs=True)

    summary = run_episode(
        env, agent, seed=seed, hooks=EpisodeHooks(on_iteration_start=before_training)
    )
    student = teacher_env.student
    losses["after"] = student.loss(probe)
    train_seconds = sum(row["train_seconds"] or 0.0 for row in summary["iterations"])

    # Evaluation throughput: batched greedy generation over held-out items.
    items = list(teacher_env.test)
    items = (items * math.ceil(settings["eval_items"] / max(len(items), 1)))[
        : settings["eval_items"]
    ]
    student.predict(items[: settings["eval_batch_size"]])  # warm-up (kernels, caches)
    if cuda:
        torch.cuda.synchronize()
    eval_started = time.perf_counter()
    answers = student.predict(items)
    if cuda:
        torch.cuda.synchronize()
    eval_seconds = time.perf_counter() - eval_started

    param = next(student.model.parameters())
    lora = student.num_trainable_parameters()
    flops_per_token = 4 * parameters + 6 * lora
    tokens_per_second = tokens["real"] / train_seconds if train_seconds else 0.0
    device_name = (
        torch.cuda.get_device_name(param.device)
        if param.device.type == "cuda"
        else (platform.processor() or platform.machine())
    )
    peak = peak_bf16_tflops(device_name) if param.device.type == "cuda" else None
    achieved = tokens_per_second * flops_per_token / 1e12
    result: dict[str, Any] = {
        "mode": mode,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "device": str(param.device),
        "device_name": device_name,
        "dtype": str(param.dtype).removeprefix("torch."),
        "lora_dtype": str(
            next(p for p in student.model.parameters() if p.requires_grad).dtype
        ).removeprefix("torch."),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": _version("transformers"),
        "peft": _version("peft"),
        "python": platform.python_version(),
        "model": {"parameters": parameters, "lora_parameters": lora, **MODEL_SHAPES[mode]},
        "episode": {
            "env": "skill-tree",
            "domain": "arithmetic",
            "iterations": settings["iterations"],
            "budget": settings["budget"],
            "steps_per_iteration": settings["steps"],
            "batch_size": settings["batch_size"],
            "initial_test": summary["initial"]["test_accuracy"],
            "final_test": summary["final"]["test_accuracy"],
            "seconds": summary["wall_seconds"],
        },
        "train": {
            "seconds": train_seconds,
            "tokens": tokens["real"],
            "padded_tokens": tokens["padded"],
            "tokens_per_second": tokens_per_second,
            "flops_per_token": flops_per_token,
            "achieved_tflops": achieved,
            "peak_bf16_tflops": peak,
            "mfu": achieved / peak if peak else None,
        },
        "loss": {
            "before": losses["before"],
            "after": losses["after"],
            "fell": losses["after"] < losses["before"],
        },
        "eval": {
            "items": len(items),
            "batch_size": settings["eval_batch_size"],
            "seconds": eval_seconds,
            "items_per_second": len(items) / eval_seconds if eval_seconds else 0.0,
            "nonempty_answers": sum(bool(a) for a in answers),
        },
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "total_seconds": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="The tiny CPU configuration (automatic without CUDA).",
    )
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "out"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dry_run = args.dry_run or not torch.cuda.is_available()
    if dry_run and not args.dry_run:
        print("no CUDA device: running the CPU dry run", file=sys.stderr)
    result = run_check(args.out, dry_run=dry_run, seed=args.seed)
    train, evaluation = result["train"], result["eval"]
    mfu = f"{train['mfu']:.1%}" if train["mfu"] is not None else "n/a"
    print(
        f"{result['mode']}: {result['device_name']} ({result['device']}, {result['dtype']}), "
        f"{result['model']['parameters'] / 1e6:.1f} M parameters\n"
        f"train {train['tokens_per_second']:.0f} tokens/s, MFU {mfu}, "
        f"loss {result['loss']['before']:.3f} -> {result['loss']['after']:.3f}\n"
        f"eval {evaluation['items_per_second']:.1f} items/s; peak GPU memory "
        f"{result['peak_gpu_memory_gib']} GiB; {result['total_seconds']:.0f} s in all\n"
        f"wrote {args.out / 'gpu_check.json'}"
    )
    if not result["loss"]["fell"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
