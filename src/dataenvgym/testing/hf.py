"""Small real models for tests and demos of Hugging Face students (no hub access needed).

``tiny_llama_folder`` writes a randomly initialised Llama (hidden 64, 2 layers) with the
SmolLM2 tokenizer to a folder, so tests exercise the same local-folder loading path as a
real model; ``smollm2_folder`` is the packaged SmolLM2-135M-Instruct, converted once into
the dataenvgym cache.
"""

from __future__ import annotations

from pathlib import Path

from dataenvgym.students.hf.config import PACKAGED_SMOLLM2, HFStudentConfig
from dataenvgym.students.hf.loading import load_tokenizer, model_folder


def smollm2_folder() -> Path:
    """The packaged SmolLM2-135M-Instruct as a Hugging Face folder (converted on first use)."""
    return Path(model_folder(HFStudentConfig(model=PACKAGED_SMOLLM2)))


def tiny_llama_folder(
    target: Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    initializer_range: float = 0.5,
) -> Path:
    """Write a random tiny Llama with the SmolLM2 tokenizer (and chat template) to ``target``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_tokenizer(str(smollm2_folder()))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        # Wide weights make a random model opinionated: its greedy output depends on the prompt.
        initializer_range=initializer_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
