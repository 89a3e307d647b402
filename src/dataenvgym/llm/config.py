"""Configuration of an LLM teacher endpoint.

One config describes any OpenAI-compatible chat endpoint: OpenAI itself, Azure OpenAI's v1
API, vLLM, Ollama, llama.cpp's server or a LiteLLM proxy differ only in ``base_url``,
``model`` and which environment variable holds the key. The key itself is never a field, so
dumping the config into a run folder cannot leak it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field


class LLMConfig(BaseModel):
    """Everything needed to talk to one chat-completions endpoint.

    Example:
        >>> LLMConfig(model="gpt-4o-mini")  # OpenAI, key in $OPENAI_API_KEY
        >>> LLMConfig(model="qwen2.5:7b", base_url="http://localhost:11434/v1", api_key_env=None)
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Model name as the server knows it (deployment on Azure).")
    base_url: str | None = Field(
        default=None,
        description="Endpoint root, e.g. 'http://localhost:8000/v1' for vLLM; None = OpenAI.",
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description=(
            "Name of the environment variable holding the API key. None for local servers "
            "that need no key (a placeholder key is sent). The key is read at call time only."
        ),
    )
    temperature: float = Field(
        default=0.7, ge=0.0, le=2.0, description="Sampling temperature; >0 keeps data diverse."
    )
    max_tokens: int | None = Field(
        default=2048, ge=1, description="Upper bound on completion tokens; None = server default."
    )
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description=(
            "Wire name of the token limit: 'max_tokens' works everywhere except OpenAI's "
            "reasoning models, which need 'max_completion_tokens'."
        ),
    )
    seed: int | None = Field(
        default=0, description="Sampling seed sent to the server (best effort) and part of the key."
    )
    max_concurrency: int = Field(
        default=8, ge=1, description="Most requests in flight at once from this client."
    )
    timeout_s: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds one request may take (one attempt: a server that answers nothing in this "
            "time counts as a transient fault and is retried)."
        ),
    )
    max_call_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "No retry starts after this many seconds of one call, so a hung or dead endpoint "
            "holds a call at most about max_call_seconds + timeout_s."
        ),
    )
    max_retries: int = Field(
        default=5, ge=0, description="Retries of a transient fault (429, 5xx, timeout, reset)."
    )
    backoff_initial_s: float = Field(
        default=1.0, ge=0, description="First backoff wait; doubles per retry, plus jitter."
    )
    backoff_max_s: float = Field(default=30.0, ge=0, description="Cap on one backoff wait.")
    retry_after_max_s: float = Field(
        default=60.0,
        ge=0,
        description="A server's Retry-After up to this many seconds is obeyed; longer ones are "
        "replaced by the capped backoff.",
    )
    structured_output: Literal["auto", "json_schema", "tools", "json_object", "text"] = Field(
        default="auto",
        description=(
            "How structured calls ask for JSON. 'auto': response_format json_schema (the "
            "pydantic model's schema, strict where possible), falling back to json_object and "
            "then to plain text when the endpoint refuses or ignores it (detected once, "
            "recorded in llm_usage.json). 'tools': the schema as a forced function call, with "
            "the same fallbacks. 'json_schema', 'json_object', 'text': that mode only. The "
            "schema is always described in the prompt too."
        ),
    )
    json_mode: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "Older switch, kept for configs that set it: False sends no response_format at all "
            "(as structured_output='text'); True never falls back to plain text; 'auto' "
            "follows structured_output."
        ),
    )
    price_input_per_1m: float | None = Field(
        default=None, ge=0, description="USD per 1M prompt tokens, for the cost in usage reports."
    )
    price_output_per_1m: float | None = Field(
        default=None, ge=0, description="USD per 1M completion tokens, for the cost in reports."
    )
    cache_path: Path | None = Field(
        default=None,
        description=(
            "SQLite file caching every completion (the runner passes one in the run folder; "
            "point several runs at one path to share). None disables the disk cache."
        ),
    )

    def api_key(self) -> str | None:
        """The API key from the environment, or None when the variable is unset or empty.

        Returns:
            The key; a placeholder when ``api_key_env`` is None (keyless local servers).
        """
        if self.api_key_env is None:
            return "no-key-needed"
        return os.environ.get(self.api_key_env) or None

    def output_modes(self) -> list[str]:
        """The structured-output modes to try, best first (see ``structured_output``)."""
        if self.json_mode is False:
            return ["text"]
        ladder = {
            "auto": ["json_schema", "json_object", "text"],
            "tools": ["tools", "json_schema", "json_object", "text"],
        }.get(self.structured_output, [self.structured_output])
        if self.json_mode is True and len(ladder) > 1:
            ladder = [mode for mode in ladder if mode != "text"]
        return ladder

    def endpoint(self) -> str:
        """A human-readable name of the endpoint, for error messages."""
        return self.base_url or "https://api.openai.com/v1 (OpenAI default)"


class SamplingOverrides(TypedDict, total=False):
    """Per-call replacements of the config's sampling parameters (all optional).

    Attributes:
        temperature: Sampling temperature for this call.
        max_tokens: Completion-token limit for this call (None: server default).
        seed: Sampling seed for this call (None: none sent); part of the cache key, so a new
            seed draws a new sample of an already-cached prompt.
    """

    temperature: float
    max_tokens: int | None
    seed: int | None
