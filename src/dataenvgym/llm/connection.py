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
    if status in (405, 501):
        return (
            f"LLM teacher: {where} answered {status} (not implemented) to a chat-completions "
            f"request; it does not look like an OpenAI-compatible endpoint: check base_url "
            f"(it should be the API root, often ending in '/v1')"
        )
    return f"LLM teacher: {where} rejected the request ({status}): {exc.message}"


def _unreachable(config: LLMConfig, exc: openai.APIConnectionError) -> LLMUnavailable:
    what = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
    return LLMUnavailable(
        f"LLM teacher: cannot reach {config.endpoint()} ({what}); check base_url and that the "
        f"server is running"
    )


def _listed_models(config: LLMConfig, sdk: openai.OpenAI) -> list[str] | None:
    """The model ids ``GET /models`` lists; None when the server has no such route."""
    try:
        page = sdk.models.list(timeout=_CHECK_TIMEOUT_S)
    except openai.APIConnectionError as exc:
        raise _unreachable(config, exc) from None
    except openai.APIStatusError as exc:
        if exc.status_code in (404, 405):
            return None
        raise LLMUnavailable(rejection_message(config, exc)) from None
    except ValueError:  # 200 but not the list format
        return None
    return [str(getattr(m, "id", "")) for m in getattr(page, "data", None) or []]


def _probe(config: LLMConfig, sdk: openai.OpenAI) -> None:
    """A 1-token completion: checks the model name where /models cannot."""
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


def check_connection(config: LLMConfig, sdk: openai.OpenAI) -> str | None:
    """Check the endpoint before any work: reachable, key accepted, model served.

    ``GET /models`` costs nothing; when it lists the model the check is done. When it lists
    others only, a 1-token completion decides (some gateways serve aliases they do not list)
    and a refusal names the listed models. A server without ``/models`` (404/405) gets the
    1-token completion, and the returned note says the model could not be looked up.

    Args:
        config: The endpoint, for the messages.
        sdk: A client built from ``config``.

    Returns:
        A note when the model id could not be checked against a list, else None.

    Raises:
        LLMUnavailable: Unreachable server, refused key, unknown model, server error, or an
            endpoint that is not OpenAI-compatible (501).
    """
    if config.api_key() is None:
        raise LLMUnavailable(missing_key_message(config))
    listed = _listed_models(config, sdk)
    if listed and config.model in listed:
        return None
    try:
        _probe(config, sdk)
    except LLMUnavailable as err:
        if listed and "404" in str(err):
            shown = ", ".join(sorted(listed)[:10]) + (", ..." if len(listed) > 10 else "")
            raise LLMUnavailable(
                f"LLM teacher: model {config.model!r} is not among the models {config.endpoint()} "
                f"serves ({shown}); set the teacher to openai:<one of them>"
            ) from None
        raise
    if listed is None:
        return (
            f"LLM teacher: {config.endpoint()} lists no models (GET /models unavailable); "
            f"model {config.model!r} checked with a 1-token request instead"
        )
    if not listed:
        return f"LLM teacher: {config.endpoint()} lists no models; {config.model!r} answered"
    return (
        f"LLM teacher: {config.model!r} is not in {config.endpoint()}'s model list but "
        f"answered a 1-token request; going on"
    )
