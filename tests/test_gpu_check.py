"""The GPU check's CPU dry run (bench/gpu_check.py), so the prepared script cannot rot."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("tokenizers")

SCRIPT = Path(__file__).parents[1] / "bench" / "gpu_check.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


def test_known_gpus_have_their_dense_bf16_peak() -> None:
    check = _load()
    assert check.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert check.peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert check.peak_bf16_tflops("NVIDIA H200") == 989.0
    assert check.peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert check.peak_bf16_tflops("Some Future Accelerator") is None


def test_the_character_tokenizer_round_trips_arithmetic() -> None:
    tokenizer = _load().build_tokenizer()
    text = "What is 12 + 7?\n19"
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and len(ids) == len(text) + 1
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_the_dry_run_trains_evaluates_and_writes_its_report(tmp_path: Path) -> None:
    result = _load().run_check(tmp_path, dry_run=True)
    written = json.loads((tmp_path / "gpu_check.json").read_text())
    assert written == result
    assert (result["mode"], result["device"], result["dtype"]) == ("dry-run", "cpu", "float32")
    assert result["lora_dtype"] == "float32"
    assert result["loss"]["fell"] and result["loss"]["after"] < result["loss"]["before"]
    train = result["train"]
    assert train["tokens"] > 0 and train["tokens_per_second"] > 0
    assert train["padded_tokens"] >= train["tokens"]
    assert train["mfu"] is None  # no GPU peak on a CPU
    assert result["eval"]["items"] == 64 and result["eval"]["items_per_second"] > 0
    assert result["model"]["lora_parameters"] < result["model"]["parameters"]
    assert result["peak_gpu_memory_gib"] is None
