"""Sending one chat request: the SDK client, the concurrency limit, retries, JSON-mode fallback.

Everything that touches the network is here; :mod:`dataenvgym.llm.client` adds the cache,
batching and structured outputs on top.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from dataenvgym.llm.config import LLMConfig
from dataenvgym.llm.connection import check_connection, missing_key_message, rejection_message
from dataenvgym.llm.errors import LLMCallFailed, LLMRequestRejected, LLMUnavailable
from dataenvgym.llm.retry import EmptyResponse, is_transient, make_wait
from dataenvgym.llm.usage import UsageTracker

logger = logging.getLogger(__name__)


class Completion(BaseModel):
    """One answer of the model.

    Attributes:
        text: The message content ("" when the server sent none).
        prompt_tokens: Prompt tokens as the server reported them (0 if it did not).
        completion_tokens: Completion tokens as the server reported them.
        cached: True when the answer came from the disk cache (no HTTP call, no cost).
        model: The model that answered, as the server named it.
        finish_reason: "stop", "length" (cut at max_tokens), ... when the server said.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    model: str
    finish_reason: str | None = None


class Transport:
    """Sends chat requests to one endpoint, counting calls, tokens, retries and failures.

    Args:
        config: The endpoint and its parameters.
        usage: Where to count.
    """

    def __init__(self, config: LLMConfig, usage: UsageTracker) -> None:
        self.config = config
        self.usage = usage
        self._sdk: openai.OpenAI | None = None
        self._sdk_lock = threading.Lock()
        # Bounds requests in flight across all callers; backoff sleeps happen outside it.
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._json_mode_ok = config.json_mode is not False

    def sdk(self) -> openai.OpenAI:
        """The SDK client, created on first use so that a fully cached re-run needs neither
        key nor server.

        Raises:
            LLMUnavailable: The API key's environment variable is not set.
        """
        with self._sdk_lock:
            if self._sdk is None:
                key = self.config.api_key()
                if key is None:
                    raise LLMUnavailable(missing_key_message(self.config))
                self._sdk = openai.OpenAI(
                    base_url=self.config.base_url,
                    api_key=key,
                    max_retries=0,  # retries are ours: counted, and with our backoff
                    timeout=self.config.timeout_s,
                )
            return self._sdk

    def check_connection(self) -> None:
        """See :func:`dataenvgym.llm.connection.check_connection`."""
        check_connection(self.config, self.sdk())

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._sdk is not None:
            self._sdk.close()

    def send(
        self, msgs: list[dict[str, Any]], role: str, it: int | str | None, params: dict[str, Any]
    ) -> Completion:
        """Send one request, retrying transient faults; count it under ``(role, it)``.

        Args:
            msgs: The conversation.
            role: Usage tag.
            it: Iteration tag.
            params: temperature, max_tokens, seed, response_format (None values not sent).

        Raises:
            LLMCallFailed: Transient faults persisted through all retries.
            LLMRequestRejected: A non-retryable HTTP error (401, 404, 400, ...).
            LLMUnavailable: The API key's environment variable is not set.
        """
        cfg = self.config
        sdk = self.sdk()

        def count_retry(state: RetryCallState) -> None:
            self.usage.record(role, it, retries=1)
            exc = state.outcome.exception() if state.outcome is not None else None
            logger.info("LLM %s call: %s; retry %d", role, _describe(exc), state.attempt_number)

        retrying = Retrying(
            stop=stop_after_attempt(cfg.max_retries + 1),
            wait=make_wait(cfg.backoff_initial_s, cfg.backoff_max_s, cfg.retry_after_max_s),
            retry=retry_if_exception(is_transient),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            response = retrying(self._request, sdk, msgs, params)
        except (openai.APIError, EmptyResponse) as exc:
            self.usage.record(role, it, failed_calls=1)
            if isinstance(exc, openai.APIStatusError) and not is_transient(exc):
                status = exc.status_code
                raise LLMRequestRejected(rejection_message(cfg, exc), status_code=status) from exc
            attempts = retrying.statistics.get("attempt_number", cfg.max_retries + 1)
            message = (
                f"LLM {role} call to {cfg.endpoint()} failed after {attempts} attempt(s): "
                f"{_describe(exc)}"
            )
            logger.warning(message)
            raise LLMCallFailed(message, role=role, attempts=attempts) from exc
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage is not None else 0
        completion_tokens = usage.completion_tokens if usage is not None else 0
        self.usage.record(
            role, it, calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached=False,
            model=response.model or cfg.model,
            finish_reason=choice.finish_reason,
        )

    def _request(
        self, sdk: openai.OpenAI, msgs: list[dict[str, Any]], params: dict[str, Any]
    ) -> Any:
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": msgs}
        if params["temperature"] is not None:
            kwargs["temperature"] = params["temperature"]
        if params["max_tokens"] is not None:
            kwargs[self.config.max_tokens_param] = params["max_tokens"]
        if params["seed"] is not None:
            kwargs["seed"] = params["seed"]
        send_json = params["response_format"] is not None and self._json_mode_ok
        if send_json:
            kwargs["response_format"] = params["response_format"]
        with self._slots:
            try:
                response = sdk.chat.completions.create(**kwargs)
            except openai.BadRequestError:
                if not (send_json and self.config.json_mode == "auto"):
                    raise
                # json_mode="auto": this server does not take response_format; fall back to
                # plain text (JSON is extracted from it anyway) and stop sending it.
                del kwargs["response_format"]
                response = sdk.chat.completions.create(**kwargs)
                if self._json_mode_ok:
                    logger.info("%s rejects JSON mode; using plain text", self.config.endpoint())
                self._json_mode_ok = False
        if not response.choices:
            raise EmptyResponse(f"{self.config.endpoint()} answered without any choice")
        return response


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
