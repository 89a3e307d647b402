"""An :class:`~dataenvgym.llm.LLMConfig` aimed at a :class:`FakeOpenAIServer`, tuned for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataenvgym.llm import LLMConfig
from dataenvgym.testing.fake_openai_server import FakeOpenAIServer

#: The environment variable tests put the (fake) API key in.
TEST_KEY_ENV = "DATAENVGYM_TEST_LLM_KEY"


def fake_server_config(
    server: FakeOpenAIServer, cache: Path | None = None, **overrides: Any
) -> LLMConfig:
    """A config for ``server`` with short timeouts and backoff, so fault tests stay fast."""
    fields: dict[str, Any] = {
        "model": "fake-model",
        "base_url": server.base_url,
        "api_key_env": TEST_KEY_ENV,
        "timeout_s": 5.0,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "cache_path": cache,
    }
    fields.update(overrides)
    return LLMConfig(**fields)
