"""The hf student inside real environments (arithmetic, MATH), and its vLLM path with a fake vLLM.

A tiny random Llama stands in for a real model: these tests check the wiring (adapters kept
per iteration, `retrain` restarting from the base, MATH data verified and trained on, vLLM
asked with the current adapter), not that the model learns.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from dataenvgym.errors import ConfigError
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode
from dataenvgym.students.hf import HFStudentConfig, HFStudentFactory
from dataenvgym.students.hf.vllm_backend import max_lora_rank, vllm_usable
from dataenvgym.testing.hf import tiny_llama_folder
from dataenvgym.types import SkillListAction, SkillRequest, TaskInstance, TrainingDatum

MATH_FIXTURES = Path(__file__).parents[1] / "domains" / "math" / "fixtures" / "MATH"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield tiny_llama_folder(tmp_path_factory.mktemp("tiny-llama-episodes"))


def test_arithmetic_episode_keeps_an_adapter_per_iteration(tiny_dir: Path, tmp_path: Path) -> None:
    env = gym.make(
        "dataenvgym/Arithmetic-SkillTree-v0",
        student="hf",
        student_config={"model": str(tiny_dir), "chat_template": "never", "batch_size": 4},
        trainer_config={"mode": "retrain", "steps_per_iteration": 2},
        env_config={"budget_per_iteration": 10, "max_iterations": 2},
        domain_config={"val_per_subskill": 1, "test_per_subskill": 1},
    )
    agent = make_agent("no-state", "skill-tree", env.unwrapped.domain)  # type: ignore[attr-defined]
    summary = run_episode(env, agent, seed=0, out_dir=tmp_path / "run")
    assert [row["iteration"] for row in summary["iterations"]] == [1, 2]
    for iteration in (1, 2):
        adapter = tmp_path / "run" / f"iteration_{iteration:03d}" / "adapter"
        assert (adapter / "adapter_model.safetensors").is_file()
        assert (adapter / "adapter_config.json").is_file()
    assert 0.0 <= summary["final"]["test_accuracy"] <= 1.0


def test_math_skill_list_step_verifies_and_trains(tiny_dir: Path) -> None:
    env = make_env(
        "skill-list",
        "math",
        student="hf",
        student_config={
            "model": str(tiny_dir),
            "chat_template": "never",
            "max_new_tokens_per_domain": {"math": 4},
            "batch_size": 4,
        },
        trainer_config={"steps_per_iteration": 2},
        env_config={"budget_per_iteration": 8, "max_iterations": 1},
        domain_config={"dataset": str(MATH_FIXTURES), "val_per_subskill": 1},
    )
    obs, info = env.reset(seed=0)
    assert sorted(obs.skills) == sorted(s.name for s in env.domain.skills())
    assert info["val_accuracy"] == pytest.approx(0.0)  # a random model solves nothing
    domain: Any = env.domain

    def datum(index: int, response: str) -> TrainingDatum:
        return TrainingDatum(
            id=f"m{index}",
            domain="math",
            prompt=domain.prompt(f"What is ${index} + {index}$?"),
            response=response,
            skill="algebra",
        )

    data = [datum(i, f"${i} + {i} = \\boxed{{{2 * i}}}$") for i in range(3)]
    data.append(datum(9, "eighteen"))  # no boxed answer: dropped by the domain's verifier
    action = SkillListAction(requests={"algebra": SkillRequest(count=4)}, data=data)
    _, reward, _, truncated, info = env.step(action)
    assert info["num_new_data"] == 3 and info["dropped"]["failed_verification"] == 1
    assert info["train"]["steps"] == 2 and truncated
    assert -1.0 <= reward <= 1.0


def test_hf_student_has_no_pretraining_stage(tiny_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no pretraining stage"):
        make_env(
            student="hf", student_config={"model": str(tiny_dir)}, pretrain_config={"steps": 5}
        )
    with pytest.raises(ConfigError, match="HFStudentConfig"):
        make_env(student="hf", student_config={"lora": {"r": 0}})


class FakeVLLM:
    """Stands in for the ``vllm`` package: records engine settings and generate calls."""

    def __init__(self) -> None:
        self.engines: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        fake = self

        class LLM:
            def __init__(self, **kwargs: Any) -> None:
                fake.engines.append(kwargs)

            def generate(self, prompts: list[Any], params: Any, **kwargs: Any) -> list[Any]:
                request = kwargs["lora_request"]
                fake.calls.append({"prompts": prompts, "params": params, "lora": request})
                done = types.SimpleNamespace(text="  \\boxed{4}\nmore")
                return [types.SimpleNamespace(outputs=[done]) for _ in prompts]

        class SamplingParams:
            def __init__(self, **kwargs: Any) -> None:
                self.__dict__.update(kwargs)

        class LoRARequest:
            def __init__(self, name: str, int_id: int, path: str) -> None:
                self.lora_name, self.lora_int_id, self.lora_path = name, int_id, path

        self.modules = {
            "vllm": module("vllm", LLM=LLM, SamplingParams=SamplingParams),
            "vllm.lora": module("vllm.lora"),
            "vllm.lora.request": module("vllm.lora.request", LoRARequest=LoRARequest),
        }


def module(name: str, **attributes: Any) -> types.ModuleType:
    """A module object with a spec, so ``importlib.util.find_spec`` finds it."""
    made = types.ModuleType(name)
    made.__spec__ = importlib.machinery.ModuleSpec(name, None)
    made.__dict__.update(attributes)
    return made


def test_vllm_answers_with_the_current_adapter(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeVLLM()
    for name, module in fake.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    config = HFStudentConfig(
        model=str(tiny_dir), inference="vllm", stop_per_domain={"math": ["\n"]}
    )
    student = HFStudentFactory(config).student(seed=0)
    question = [TaskInstance(id="q", domain="math", prompt="2+2?", answer="4")]
    assert student.predict(question) == ["\\boxed{4}"]  # stripped and cut at the stop string
    engine, call = fake.engines[0], fake.calls[0]
    assert (
        engine["enable_lora"] and engine["max_lora_rank"] == 8 and engine["model"] == str(tiny_dir)
    )
    assert call["params"].temperature == 0.0 and call["params"].stop == ["\n"]
    assert call["params"].max_tokens == config.max_new_tokens_for("math")
    # Token ids formatted as in training: the chat template, no second BOS.
    expected = student.tokenizer(student.format.prompt_text("2+2?"), add_special_tokens=False)
    assert call["prompts"][0]["prompt_token_ids"] == expected["input_ids"]
    first = call["lora"]
    assert (Path(first.lora_path) / "adapter_model.safetensors").is_file()
    student.predict(question)
    assert fake.calls[1]["lora"] is first  # unchanged adapter: the same request
    student.fit(
        [TrainingDatum(id="d", domain="math", prompt="1+1?", response="2")], steps=1, seed=0
    )
    student.predict(question)
    assert fake.calls[2]["lora"].lora_int_id != first.lora_int_id  # trained: a new adapter id
    assert len(fake.engines) == 1  # the engine is built once


def test_vllm_rank_and_fallback(tiny_dir: Path) -> None:
    assert max_lora_rank(8) == 8 and max_lora_rank(12) == 16
    with pytest.raises(ConfigError, match="above vLLM's largest"):
        max_lora_rank(1024)
    student = HFStudentFactory(HFStudentConfig(model=str(tiny_dir))).student(seed=0)
    # `auto` answers through vLLM only where vLLM is installed and a GPU is present.
    assert student._use_vllm() == vllm_usable()
