"""Optional student inference through vLLM, with the student's current LoRA adapter.

Training stays in ``transformers`` + ``peft``; only answering moves to a vLLM engine loaded
once with the same base weights. After each change of the adapter (a ``fit`` or ``load``) the
adapter is written to a temporary folder and handed to vLLM as a new ``LoRARequest`` id, so
the engine never answers with stale weights. Install with ``pip install 'dataenvgym[vllm]'``
on a machine with a CUDA GPU; elsewhere ``inference: auto`` falls back to ``transformers``.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataenvgym.errors import ConfigError
from dataenvgym.students.hf.config import HFStudentConfig

if TYPE_CHECKING:
    from dataenvgym.students.hf.student import HFStudent

#: LoRA ranks vLLM accepts for ``max_lora_rank``.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_usable() -> bool:
    """vLLM is installed and a CUDA GPU is present."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def max_lora_rank(r: int) -> int:
    """The smallest rank vLLM accepts that holds an adapter of rank ``r``."""
    for rank in VLLM_LORA_RANKS:
        if rank >= r:
            return rank
    raise ConfigError(f"LoRA rank {r} is above vLLM's largest ({VLLM_LORA_RANKS[-1]})")


class VLLMBackend:
    """A vLLM engine over the student's base model that answers with its current adapter.

    Args:
        base_folder: The base model (hub id or folder) the student's adapter was trained on.
        config: The student's settings (dtype, memory share, LoRA rank).
    """

    def __init__(self, base_folder: str, config: HFStudentConfig) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError(
                "student_config.inference is 'vllm' but vLLM is not installed: "
                "pip install 'dataenvgym[vllm]' (needs a CUDA GPU)"
            )
        from vllm import LLM

        dtype = "auto" if config.dtype == "auto" else config.dtype
        self.engine: Any = LLM(
            model=base_folder,
            revision=config.revision,
            dtype=dtype,
            enable_lora=True,
            max_lora_rank=max_lora_rank(config.lora.r),
            max_loras=1,
            gpu_memory_utilization=config.vllm_gpu_memory_utilization,
            seed=0,
        )
        self._adapters = Path(tempfile.mkdtemp(prefix="dataenvgym-vllm-lora-"))
        self._request: Any = None
        self._version = -1

    def _lora_request(self, student: HFStudent, version: int) -> Any:
        """The adapter as a ``LoRARequest``, written anew when the student's weights changed."""
        from vllm.lora.request import LoRARequest

        if self._request is None or version != self._version:
            if self._request is not None:
                shutil.rmtree(self._request.lora_path, ignore_errors=True)
            path = self._adapters / f"v{version}"
            student.model.save_pretrained(str(path))
            # A fresh integer id per version: vLLM caches adapters by id.
            self._request = LoRARequest(f"student-v{version}", version + 1, str(path))
            self._version = version
        return self._request

    def generate(
        self,
        texts: list[str],
        student: HFStudent,
        *,
        max_new_tokens: int,
        stop: list[str],
        version: int,
    ) -> list[str]:
        """Greedy continuations of already formatted prompts, in order."""
        from vllm import SamplingParams

        special = student.format.add_special_tokens()
        # Token ids, not text: vLLM would add a second BOS to a template that has its own.
        prompts = [
            {"prompt_token_ids": student.tokenizer(t, add_special_tokens=special)["input_ids"]}
            for t in texts
        ]
        params = SamplingParams(
            temperature=0.0,
            max_tokens=max_new_tokens,
            stop=stop or None,
            stop_token_ids=student.stop_ids,
        )
        outputs = self.engine.generate(
            prompts, params, lora_request=self._lora_request(student, version), use_tqdm=False
        )
        return [output.outputs[0].text for output in outputs]
