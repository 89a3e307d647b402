"""Checking an endpoint before any training, and one-line messages that say what to fix."""

from __future__ import annotations

import openai

from dataenvgym.llm.config import LLMConfig
from dataenvgym.llm.errors import LLMUnavailable

#: The connection check should fail fast even when calls are allowed a long timeout.
_CHECK_TIMEOUT_S = 15.0


def missing_key_message(config: LLMConfig) -> str:
    """Say which environment variable to set (or how to do without a key)."""
    return (
        f"LLM teacher: environment variable {config.api_key_env} is not set; export it with the "
        f"API key for {config.endpoint()} (for a local server without keys, set api_key_env to "
        f"null)"
    )


def rejection_message(config: LLMConfig, exc: openai.APIStatusError) -> str:
    """Explain a non-retryable HTTP error in one line, with the likely fix."""
    where = config.endpoint()
    status = exc.status_code
    if status == 401:
        source = f"${config.api_key_env}" if config.api_key_env else "no key (api_key_env=null)"
        return f"LLM teacher: {where} rejected the API key from {source} (401); check its value"
    if status == 403:
        return f"LLM teacher: {where} denied access (403) to model {config.model!r}: {exc.message}"
    if status == 404:
        return (
            f"LLM teacher: {where} answered 404 for model {config.model!r}; check the model "
            f"name and that base_url ends with the API root (often '/v1'): {exc.message}"
        )
    return f"LLM teacher: {where} rejected the request ({status}): {exc.message}"


def _unreachable(config: LLMConfig, exc: openai.APIConnectionError) -> LLMUnavailable:
    what = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
    return LLMUnavailable(
        f"LLM teacher: cannot reach {config.endpoint()} ({what}); check base_url and that the "
        f"server is running"
    )


def check_connection(config: LLMConfig, sdk: openai.OpenAI) -> None:
    """Make one cheap request; raise :class:`LLMUnavailable` with one clear line if it fails.

    ``GET /models`` costs nothing and every compatible server has it; a server without it
    (404/405) gets a 1-token completion instead, which also checks the model name.

    Args:
        config: The endpoint, for the messages.
        sdk: A client built from ``config``.

    Raises:
        LLMUnavailable: Unreachable server, refused key, unknown model or server error.
    """
    if config.api_key() is None:
        raise LLMUnavailable(missing_key_message(config))
    try:
        sdk.models.list(timeout=_CHECK_TIMEOUT_S)
        return
    except openai.APIConnectionError as exc:
        raise _unreachable(config, exc) from None
    except openai.APIStatusError as exc:
        if exc.status_code not in (404, 405):
            raise LLMUnavailable(rejection_message(config, exc)) from None
    try:
        sdk.chat.completions.create(
            model=config.model,
            messages=[{"role": "user", "content": "Reply with OK."}],
            max_tokens=1,
            timeout=_CHECK_TIMEOUT_S,
        )
    except openai.APIConnectionError as exc:
        raise _unreachable(config, exc) from None
    except openai.APIStatusError as exc:
        raise LLMUnavailable(rejection_message(config, exc)) from None
