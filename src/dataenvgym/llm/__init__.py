"""An LLM client library for teachers: any OpenAI-compatible endpoint, cached on disk,
retried on transient faults, concurrent, with usage counted per role and iteration.

It knows no environment, agent or domain; agents and skill discovery build on it.

Example:
    >>> from dataenvgym.llm import LLMClient, LLMConfig
    >>> client = LLMClient(LLMConfig(model="gpt-4o-mini", cache_path="runs/x/llm_cache.sqlite"))
    >>> client.check_connection()
    >>> with client.iteration(0):
    ...     text = client.complete([{"role": "user", "content": "Hi"}], role="engine").text
"""

from __future__ import annotations

try:  # a clear hint instead of a bare ModuleNotFoundError deep in an import chain
    import openai  # noqa: F401
    import tenacity  # noqa: F401
except ImportError as _err:
    raise ImportError(
        "dataenvgym.llm needs the [llm] extra: pip install 'dataenvgym[llm]'"
    ) from _err

from dataenvgym.llm.cache import LLMCache, cache_key
from dataenvgym.llm.client import Completion, LLMClient, Messages
from dataenvgym.llm.config import LLMConfig, SamplingOverrides
from dataenvgym.llm.errors import LLMCallFailed, LLMError, LLMRequestRejected, LLMUnavailable
from dataenvgym.llm.prompts import list_prompts, load_prompt
from dataenvgym.llm.structured import (
    StructuredOutputError,
    extract_json,
    parse_structured,
    schema_instructions,
)
from dataenvgym.llm.usage import UsageStats, UsageTracker

__all__ = [
    "Completion",
    "LLMCache",
    "LLMCallFailed",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMRequestRejected",
    "LLMUnavailable",
    "Messages",
    "SamplingOverrides",
    "StructuredOutputError",
    "UsageStats",
    "UsageTracker",
    "cache_key",
    "extract_json",
    "list_prompts",
    "load_prompt",
    "parse_structured",
    "schema_instructions",
]
