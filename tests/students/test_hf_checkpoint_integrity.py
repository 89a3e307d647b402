"""The hf student's checkpoints (its LoRA adapter) under the manifest: a damaged adapter falls
back to the checkpoint before it, and the episode ends as the uninterrupted one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("peft")

from dataenvgym.manifest import read_manifest
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import EpisodeHooks, run_episode
from dataenvgym.testing.hf import tiny_llama_folder

WALL_TIME_FIELDS = ("wall_seconds", "base_student_seconds")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield tiny_llama_folder(tmp_path_factory.mktemp("tiny-llama-integrity"))


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k not in WALL_TIME_FIELDS}
    out["iterations"] = [
        {k: v for k, v in row.items() if k != "train_seconds"} for row in summary["iterations"]
    ]
    return out


def _episode(tiny_dir: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
    env = make_env(
        "skill-list",
        "arithmetic",
        student="hf",
        student_config={"model": str(tiny_dir), "chat_template": "never", "batch_size": 4},
        trainer_config={"steps_per_iteration": 2},
        env_config={"budget_per_iteration": 8, "max_iterations": 2},
        domain_config={"val_per_subskill": 1, "test_per_subskill": 1},
    )
    agent = make_agent("no-state", "skill-list", env.domain)
    return run_episode(env, agent, seed=1, out_dir=out, **kwargs)


@pytest.mark.slow
def test_a_damaged_adapter_falls_back_to_the_checkpoint_before(
    tiny_dir: Path, tmp_path: Path
) -> None:
    reference = _episode(tiny_dir, tmp_path / "reference")
    newest = tmp_path / "reference" / "iteration_002" / "checkpoint"
    files = read_manifest(newest)
    assert files is not None and "student/adapter_model.safetensors" in files
    run = tmp_path / "run"
    shutil.copytree(tmp_path / "reference", run)
    (run / "summary.json").unlink()
    adapter = run / "iteration_002" / "checkpoint" / "student" / "adapter_model.safetensors"
    adapter.write_bytes(adapter.read_bytes()[:100])
    notices: list[str] = []
    resumed = _episode(tiny_dir, run, resume=True, hooks=EpisodeHooks(on_notice=notices.append))
    assert len(notices) == 1 and "student/adapter_model.safetensors is 100 bytes" in notices[0]
    assert _comparable(resumed) == _comparable(reference)
