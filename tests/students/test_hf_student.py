"""The Hugging Face student on a tiny random Llama (hidden 64, 2 layers) with SmolLM2's tokenizer.

The model is random, so these tests check mechanics that do not need a good model: the chat
template and response-only labels, batched left-padded decoding equal to one-by-one decoding,
stop strings and length caps, learning, adapters saved and restored, and the base checkpoint
that `retrain` restarts from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from dataenvgym.errors import ConfigError
from dataenvgym.protocols import Student
from dataenvgym.students.hf import HFStudentConfig, HFStudentFactory
from dataenvgym.students.hf.loading import packaged_gguf, resolve_device, resolve_dtype
from dataenvgym.students.hf.student import HFStudent
from dataenvgym.testing.hf import tiny_llama_folder
from dataenvgym.types import TaskInstance, TrainingDatum


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # The autouse cache fixture is per test; point this module-wide build at the same cache.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield tiny_llama_folder(tmp_path_factory.mktemp("tiny-llama"))


def make_student(tiny_dir: Path, **settings: Any) -> HFStudent:
    config = HFStudentConfig.model_validate({"model": str(tiny_dir), **settings})
    return HFStudentFactory(config).student(seed=0)


def sums(count: int, start: int = 0) -> list[TrainingDatum]:
    return [
        TrainingDatum(
            id=f"d{i}",
            domain="arithmetic",
            prompt=f"{i:03d}+{i:03d}=",
            response=f"{2 * i:04d}",
            skill="addition",
            subskill="no_carry",
        )
        for i in range(start, start + count)
    ]


def instances(prompts: list[str], domain: str = "arithmetic") -> list[TaskInstance]:
    return [
        TaskInstance(id=f"i{i}", domain=domain, prompt=p, answer="0") for i, p in enumerate(prompts)
    ]


def test_chat_template_and_loss_on_the_response_only(tiny_dir: Path) -> None:
    student = make_student(tiny_dir)
    assert isinstance(student, Student)
    assert student.format.use_template
    example = student.format.training_example("023+045=", "0068", max_length=512)
    tokenizer = student.tokenizer
    prompt_text = str(tokenizer.decode(example.ids[: example.response_start]))
    assert prompt_text.endswith("<|im_start|>user\n023+045=<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.decode(example.ids[example.response_start :]) == "0068<|im_end|>\n"
    batch = student._batch([example, student.format.training_example("1+1=", "2", 512)])
    labels, ids = batch["labels"], batch["input_ids"]
    # Prompt and padding are masked; the response tokens are their own targets.
    assert (labels[0, : example.response_start] == -100).all()
    assert torch.equal(labels[0, example.response_start :], ids[0, example.response_start :])
    assert (labels[1][batch["attention_mask"][1] == 0] == -100).all()


def test_without_template_the_raw_prompt_is_used_and_long_examples_keep_the_answer(
    tiny_dir: Path,
) -> None:
    student = make_student(tiny_dir, chat_template="never")
    assert student.format.prompt_text("12+3=") == "12+3="
    long_prompt = "word " * 200
    example = student.format.training_example(long_prompt, "the answer", max_length=40)
    assert len(example.ids) == 40
    assert str(student.tokenizer.decode(example.ids[example.response_start :])).startswith(
        "the answer"
    )


def test_batched_left_padded_greedy_equals_one_at_a_time(tiny_dir: Path) -> None:
    student = make_student(
        tiny_dir, max_new_tokens_per_domain={"arithmetic": 6}, stop_per_domain={}
    )
    prompts = ["1+1=", "What is 123 plus 456, written out?", "7*7=", "A longer prompt here: 9-3="]
    batched = student.predict(instances(prompts))
    alone = [student.predict(instances([p]))[0] for p in prompts]
    assert batched == alone
    assert any(batched)  # the random model does write something


def test_stop_strings_and_per_domain_length_caps(tiny_dir: Path) -> None:
    student = make_student(
        tiny_dir,
        max_new_tokens_per_domain={"short": 2, "long": 12},
        stop_per_domain={},
    )
    prompt = ["Tell me a story about a cat."]
    long = student.predict(instances(prompt, "long"))[0]
    short = student.predict(instances(prompt, "short"))[0]
    assert long.startswith(short) and len(short) < len(long)
    # Stop at a piece of what the model writes: the answer ends right before it.
    stop = long[len(long) // 2 : len(long) // 2 + 2]
    student.config = student.config.model_copy(update={"stop_per_domain": {"long": [stop]}})
    stopped = student.predict(instances(prompt, "long"))[0]
    assert stop not in stopped and long.startswith(stopped) and len(stopped) < len(long)


def test_fit_lowers_the_response_loss(tiny_dir: Path) -> None:
    student = make_student(
        tiny_dir, chat_template="never", lr=1e-2, lora={"r": 8, "target_modules": "all-linear"}
    )
    data = sums(16)
    before = student.loss(data)
    seen: list[tuple[int, float]] = []
    student.progress = lambda step, loss: seen.append((step, loss))
    stats = student.fit(data, steps=12, seed=0)
    assert stats.steps == 12 and [s for s, _ in seen] == list(range(1, 13))
    assert student.loss(data) < before - 1.0
    # Only the adapter trains: the base weights carry no gradient.
    assert all(not p.requires_grad for n, p in student.model.named_parameters() if "lora_" not in n)


def test_save_load_round_trip_and_a_mismatched_adapter(tiny_dir: Path, tmp_path: Path) -> None:
    trained = make_student(tiny_dir, chat_template="never", lr=1e-2)
    data = sums(8)
    trained.fit(data, steps=4, seed=0)
    trained.save(tmp_path / "adapter")
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "student.json"} <= files
    size = (tmp_path / "adapter" / "adapter_model.safetensors").stat().st_size
    assert size < 1_000_000  # the adapter alone, not the 13 MB base model
    info = json.loads((tmp_path / "adapter" / "student.json").read_text())
    assert info["config"]["lora"]["r"] == 8

    fresh = make_student(tiny_dir, chat_template="never")
    assert fresh.loss(data) != pytest.approx(trained.loss(data), abs=1e-4)
    fresh.load(tmp_path / "adapter")
    assert fresh.loss(data) == pytest.approx(trained.loss(data), abs=1e-5)
    # `continue` keeps training the loaded adapter.
    assert fresh.num_trainable_parameters() == trained.num_trainable_parameters()
    fresh.fit(data, steps=2, seed=1)

    other = make_student(tiny_dir, chat_template="never", lora={"r": 4})
    with pytest.raises(ValueError, match="r=8"):
        other.load(tmp_path / "adapter")


def test_base_checkpoint_is_the_seeds_fresh_adapter(tiny_dir: Path) -> None:
    factory = HFStudentFactory(HFStudentConfig(model=str(tiny_dir), chat_template="never", lr=1e-2))
    domain: Any = None  # nothing is pretrained, so the domain is not consulted
    base = factory.base_student(domain, seed=0, exclude_prompts=set())
    assert not base.cached and base.training_data == []
    student = base.student
    assert isinstance(student, HFStudent)
    data = sums(8)
    start = student.loss(data)
    student.fit(data, steps=4, seed=0)
    assert student.loss(data) < start
    student.load(base.checkpoint)  # what RetrainTrainer does each iteration
    assert student.loss(data) == pytest.approx(start, abs=1e-6)
    again = factory.base_student(domain, seed=0, exclude_prompts=set())
    assert again.cached and again.checkpoint == base.checkpoint
    assert factory.base_student(domain, seed=1, exclude_prompts=set()).checkpoint != base.checkpoint


def test_device_dtype_and_packaged_model_resolution() -> None:
    if torch.cuda.is_available():
        pytest.skip("checks the CPU fallback")
    config = HFStudentConfig()
    assert resolve_device(config) == "cpu"
    assert resolve_dtype(config, "cpu") == torch.float32
    assert resolve_dtype(config.model_copy(update={"dtype": "bfloat16"}), "cpu") == torch.bfloat16
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device(config.model_copy(update={"device": "cuda"}))
    with pytest.raises(ConfigError, match="unknown packaged model"):
        packaged_gguf("gpt-17")
    assert packaged_gguf("smollm2-135m-instruct").suffix == ".gguf"


def test_config_rejects_unknown_settings() -> None:
    with pytest.raises(ValueError, match="lora_rank"):
        HFStudentConfig.model_validate({"lora_rank": 8})
