"""Sending one chat request: the SDK client, the concurrency limit, retries, output modes.

Everything that touches the network is here; :mod:`dataenvgym.llm.client` adds the cache,
batching and structured outputs on top.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from dataenvgym.llm.config import LLMConfig
from dataenvgym.llm.connection import check_connection, missing_key_message, rejection_message
from dataenvgym.llm.errors import LLMCallFailed, LLMRequestRejected, LLMUnavailable
from dataenvgym.llm.modes import OutputModes
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
        mode: The structured-output mode the request went out in (None: from the cache).
    """

    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    model: str
    finish_reason: str | None = None
    mode: str | None = None


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
        #: Which structured-output mode this endpoint takes (detected once, then kept).
        self.modes = OutputModes(config.output_modes())
        # Set when a call failed after all its retries and none has succeeded since: later
        # calls get one attempt each, so a dead endpoint costs one backoff, not one per call.
        self._down = False

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

    def check_connection(self) -> str | None:
        """See :func:`dataenvgym.llm.connection.check_connection`."""
        return check_connection(self.config, self.sdk())

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

        attempts = 1 if self._down else cfg.max_retries + 1
        retrying = Retrying(
            # A dead or hung endpoint must not hold a call for ever: no retry starts after
            # max_call_seconds (each attempt is itself bounded by timeout_s).
            stop=stop_after_attempt(attempts) | stop_after_delay(cfg.max_call_seconds),
            wait=make_wait(cfg.backoff_initial_s, cfg.backoff_max_s, cfg.retry_after_max_s),
            retry=retry_if_exception(is_transient),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            response, mode = retrying(self._request, sdk, msgs, params)
        except (openai.APIError, EmptyResponse) as exc:
            self.usage.record(role, it, failed_calls=1)
            if isinstance(exc, openai.APIStatusError) and not is_transient(exc):
                status = exc.status_code
                raise LLMRequestRejected(rejection_message(cfg, exc), status_code=status) from exc
            self._down = True
            attempts = retrying.statistics.get("attempt_number", attempts)
            message = (
                f"LLM {role} call to {cfg.endpoint()} failed after {attempts} attempt(s): "
                f"{_describe(exc)}"
            )
            logger.warning(message)
            raise LLMCallFailed(message, role=role, attempts=attempts) from exc
        self._down = False
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage is not None else 0
        completion_tokens = usage.completion_tokens if usage is not None else 0
        self.usage.record(
            role, it, calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        choice = response.choices[0]
        return Completion(
            text=_answer_text(choice.message),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached=False,
            model=response.model or cfg.model,
            finish_reason=choice.finish_reason,
            mode=mode if params["response_format"] is not None else None,
        )

    def _request(
        self, sdk: openai.OpenAI, msgs: list[dict[str, Any]], params: dict[str, Any]
    ) -> tuple[Any, str]:
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": msgs}
        if params["temperature"] is not None:
            kwargs["temperature"] = params["temperature"]
        if params["max_tokens"] is not None:
            kwargs[self.config.max_tokens_param] = params["max_tokens"]
        if params["seed"] is not None:
            kwargs["seed"] = params["seed"]
        wanted = params["response_format"]
        with self._slots:
            mode = self.modes.current
            try:
                response = sdk.chat.completions.create(**kwargs, **_wire(wanted, mode))
            except (openai.BadRequestError, openai.UnprocessableEntityError) as err:
                if not _wire(wanted, mode):
                    raise
                # The endpoint may not take this way of asking for JSON: try the next modes
                # down. Only a lower mode that then works is kept, so a 400 for another
                # reason (a prompt too long) does not change the endpoint's mode.
                response, mode = self._step_down(sdk, kwargs, wanted, mode, err)
        if not response.choices:
            raise EmptyResponse(f"{self.config.endpoint()} answered without any choice")
        return response, mode

    def _step_down(
        self,
        sdk: openai.OpenAI,
        kwargs: dict[str, Any],
        wanted: dict[str, Any] | None,
        mode: str,
        err: openai.APIStatusError,
    ) -> tuple[Any, str]:
        for lower in self.modes.below(mode):
            try:
                response = sdk.chat.completions.create(**kwargs, **_wire(wanted, lower))
            except (openai.BadRequestError, openai.UnprocessableEntityError):
                continue
            reason = f"HTTP {err.status_code} to {mode}: {err.message}"[:300]
            if self.modes.step_down(mode, lower, reason):
                logger.info("%s refuses %s; using %s", self.config.endpoint(), mode, lower)
            return response, lower
        raise err


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


def _wire(wanted: dict[str, Any] | None, mode: str) -> dict[str, Any]:
    """The request fields that ask for JSON of ``wanted`` in ``mode`` (empty: none)."""
    if wanted is None or mode == "text":
        return {}
    if wanted.get("type") != "json_schema" or mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    if mode == "tools":
        spec = wanted["json_schema"]
        tool = {
            "type": "function",
            "function": {
                "name": spec["name"],
                "description": "Give the answer as the arguments of this function.",
                "parameters": spec["schema"],
                "strict": spec.get("strict", False),
            },
        }
        choice = {"type": "function", "function": {"name": spec["name"]}}
        return {"tools": [tool], "tool_choice": choice}
    return {"response_format": wanted}


def _answer_text(message: Any) -> str:
    """The message content, or the arguments of its first tool call (tools mode)."""
    if message.content:
        return str(message.content)
    calls = getattr(message, "tool_calls", None) or []
    for call in calls:
        arguments = getattr(getattr(call, "function", None), "arguments", None)
        if arguments:
            return str(arguments)
    return ""
