"""The VLM student on a tiny random PaliGemma built from a config (no downloads).

The model and its processor are saved to a folder and loaded back through the Auto classes,
the way a real checkpoint would be, then tuned with LoRA on rendered VQA scenes.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers", reason="the VLM student needs the [hf] extra (transformers)")
pytest.importorskip("peft", reason="the VLM student needs the [hf] extra (peft)")

import torch

from dataenvgym.domains.vqa.domain import VQADomain
from dataenvgym.domains.vqa.questions import ANSWERS
from dataenvgym.protocols import Student
from dataenvgym.students.vlm import VLMStudent, VLMStudentConfig, VLMStudentFactory
from dataenvgym.students.vqa import WORDS
from dataenvgym.types import TaskInstance


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        PreTrainedTokenizerFast,
        SiglipImageProcessor,
    )

    words = ["<pad>", "<eos>", "<bos>", "<unk>", "answer", "en", *WORDS, *ANSWERS]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    image_processor = SiglipImageProcessor(size={"height": 32, "width": 32}, image_seq_length=16)
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = PaliGemmaConfig(
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        text_config={
            "model_type": "gemma",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
        },
        projection_dim=32,
        image_token_index=processor.image_token_id,
        pad_token_id=tokenizer.pad_token_id,  # type: ignore[call-arg]
    )
    torch.manual_seed(0)
    model = PaliGemmaForConditionalGeneration(config)
    # The output head is the (frozen) tied embedding; at the default init (std 0.02) its
    # logits are nearly flat whatever LoRA does. A trained model's are not: rescale them.
    with torch.no_grad():
        embeddings: Any = model.get_input_embeddings()
        embeddings.weight.normal_(0.0, 0.3)
    folder = tmp_path_factory.mktemp("tiny-paligemma")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _config(folder: Path) -> VLMStudentConfig:
    return VLMStudentConfig(model=str(folder), device="cpu", batch_size=4, lr=1e-2, lora_r=4)


def _instances(data: list) -> list[TaskInstance]:
    return [
        TaskInstance(
            id=d.id, domain=d.domain, prompt=d.prompt, answer=d.response, metadata=d.metadata
        )
        for d in data
    ]


@pytest.mark.slow
def test_lora_tuning_teaches_the_answers_and_leaves_the_base_frozen(
    tiny_vlm: Path, tmp_path: Path
) -> None:
    data = VQADomain().generate("existence", "shape", 4, random.Random(0))
    student = VLMStudent(_config(tiny_vlm))
    assert isinstance(student, Student)
    frozen = {
        n: p.detach().clone() for n, p in student.model.named_parameters() if not p.requires_grad
    }
    trainable = [n for n, p in student.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)

    batch = student._train_batch(data)
    with torch.no_grad():
        initial_loss = float(student.model(**batch).loss)
    stats = student.fit(data, steps=40, seed=0)
    answers = student.predict(_instances(data))
    assert stats.final_loss < 0.5 * initial_loss
    assert set(answers) <= {"yes", "no"}  # it has learned the answer format, as text
    assert all(
        torch.equal(p, frozen[n]) for n, p in student.model.named_parameters() if n in frozen
    )

    student.save(tmp_path / "ckpt")
    fresh = VLMStudent(_config(tiny_vlm))
    fresh.load(tmp_path / "ckpt")
    assert fresh.predict(_instances(data)) == answers


@pytest.mark.slow
def test_factory_saves_the_untrained_adapter_once(tiny_vlm: Path, tmp_path: Path) -> None:
    factory = VLMStudentFactory(_config(tiny_vlm), cache_root=tmp_path)
    first = factory.base_student(VQADomain(), seed=0, exclude_prompts=set())
    second = factory.base_student(VQADomain(), seed=0, exclude_prompts=set())
    assert not first.cached and second.cached
    assert (first.checkpoint / "adapter_config.json").is_file()
    assert first.training_data == []


def test_it_is_the_hf_vlm_student_kind(tiny_vlm: Path) -> None:
    from dataenvgym.registry import make_env

    env = make_env(
        "skill-list",
        "vqa",
        student="hf-vlm",
        student_config={"model": str(tiny_vlm), "device": "cpu"},
        domain_config={"val_per_subskill": 1, "test_per_subskill": 1},
    )
    assert isinstance(env.student_factory, VLMStudentFactory)
    assert env.student_factory.config.model == str(tiny_vlm)
