"""The LLM client: cached, retried, concurrent chat completions over the ``openai`` SDK.

One code path serves every OpenAI-compatible server; only ``LLMConfig.base_url`` changes.
A call goes: cache lookup → (on a miss) request with retries of transient faults → cache
store → usage counters. Structured calls add JSON extraction, pydantic validation and
re-asks on top (see :mod:`dataenvgym.llm.structured`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel
from typing_extensions import Unpack

from dataenvgym.llm.batch import map_in_order
from dataenvgym.llm.cache import CachedCompletion, KeyLocks, LLMCache, cache_key
from dataenvgym.llm.config import LLMConfig, SamplingOverrides
from dataenvgym.llm.schema import response_schema
from dataenvgym.llm.structured import complete_with_reasks, iter_json_values
from dataenvgym.llm.transport import Completion, Transport
from dataenvgym.llm.usage import UsageTracker

logger = logging.getLogger(__name__)

#: Chat messages in the OpenAI format: ``{"role": "user", "content": "..."}``.
Messages = Sequence[Mapping[str, Any]]
M = TypeVar("M", bound=BaseModel)
_JSON_OBJECT = {"type": "json_object"}

__all__ = ["Completion", "LLMClient", "Messages"]


class LLMClient:
    """Chat completions for every role of a teacher, with cache, retries and usage counts.

    Args:
        config: The endpoint and its parameters.
        cache: A cache to use instead of opening ``config.cache_path`` (e.g. one shared by
            several clients); None opens ``config.cache_path`` if set, else no caching.
        usage: Counters to add to (e.g. shared by several clients); None makes new ones.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        cache: LLMCache | None = None,
        usage: UsageTracker | None = None,
    ) -> None:
        self.config = config
        self._owns_cache = cache is None and config.cache_path is not None
        self.cache = (
            LLMCache(config.cache_path) if self._owns_cache and config.cache_path else cache
        )
        self.usage = usage or UsageTracker(config.price_input_per_1m, config.price_output_per_1m)
        self.transport = Transport(config, self.usage)
        self._key_locks = KeyLocks()
        self._iteration: int | str | None = None
        # Cache keys of structured calls that never gave a valid object (see forget_invalid).
        self._invalid_keys: list[str] = []
        self._invalid_lock = threading.Lock()

    # -- iteration tags ---------------------------------------------------------------------

    def set_iteration(self, iteration: int | str | None) -> None:
        """Tag the calls that follow with ``iteration`` in the usage counters (None: untagged)."""
        self._iteration = iteration

    @contextmanager
    def iteration(self, iteration: int | str | None) -> Iterator[None]:
        """Tag the calls made inside the ``with`` block, then restore the previous tag."""
        previous, self._iteration = self._iteration, iteration
        try:
            yield
        finally:
            self._iteration = previous

    # -- completions ------------------------------------------------------------------------

    def complete(
        self,
        messages: Messages,
        *,
        role: str,
        json_mode: bool = False,
        **overrides: Unpack[SamplingOverrides],
    ) -> Completion:
        """One chat completion, from the cache when possible.

        Args:
            messages: The conversation in the OpenAI format.
            role: Usage tag of the caller ("policy", "engine", "skill_discovery", ...).
            json_mode: Ask for ``response_format={"type": "json_object"}`` where supported.
            **overrides: ``temperature``, ``max_tokens`` or ``seed`` for this call only (vary
                the seed to get distinct samples of one prompt past the cache).

        Returns:
            The completion; ``cached`` says whether a request was made.

        Raises:
            LLMCallFailed: Transient faults persisted through all retries (already counted).
            LLMRequestRejected: The server refused the request (401, 404, 400); not retried.
            LLMUnavailable: The API key's environment variable is not set.
        """
        params = self._params(overrides, json_mode)
        return self._complete(messages, role, self._iteration, params)

    @overload
    def complete_many(
        self,
        batch: Sequence[Messages],
        *,
        role: str,
        skip_failures: Literal[False] = False,
        json_mode: bool = False,
        **overrides: Unpack[SamplingOverrides],
    ) -> list[Completion]: ...

    @overload
    def complete_many(
        self,
        batch: Sequence[Messages],
        *,
        role: str,
        skip_failures: Literal[True],
        json_mode: bool = False,
        **overrides: Unpack[SamplingOverrides],
    ) -> list[Completion | None]: ...

    def complete_many(
        self,
        batch: Sequence[Messages],
        *,
        role: str,
        skip_failures: bool = False,
        json_mode: bool = False,
        **overrides: Unpack[SamplingOverrides],
    ) -> list[Completion] | list[Completion | None]:
        """Many completions at once, up to ``max_concurrency`` in flight, in input order.

        Args:
            batch: One message list per completion.
            role: Usage tag, as in :meth:`complete`.
            skip_failures: Put None where a call failed after its retries, instead of raising
                the first such :class:`LLMCallFailed` (failures are counted either way).
            json_mode: As in :meth:`complete`.
            **overrides: As in :meth:`complete`.

        Returns:
            The completions, in the order of ``batch``.
        """
        params = self._params(overrides, json_mode)
        it = self._iteration  # captured here: worker threads must not see a later tag
        return map_in_order(
            lambda messages: self._complete(messages, role, it, params),
            batch,
            self.config.max_concurrency,
            skip_failures,
        )

    def complete_structured(
        self,
        messages: Messages,
        schema: type[M],
        *,
        role: str,
        max_reasks: int = 2,
        json_schema: dict[str, Any] | None = None,
        **overrides: Unpack[SamplingOverrides],
    ) -> M | None:
        """A completion parsed and validated as ``schema``, re-asking with the error if needed.

        The request carries ``schema``'s JSON schema as ``response_format`` (``json_schema``,
        strict where the model allows), or a lower mode where the endpoint refuses or ignores
        it (see ``LLMConfig.structured_output``); the JSON is extracted from fences or prose
        either way. On a parse or validation error the model's answer and a message
        carrying the error are appended and the model asked again, at most ``max_reasks``
        times. Re-asks are cached like any call, so a warm re-run replays them.

        Args:
            messages: The conversation; it should describe the JSON wanted
                (:func:`dataenvgym.llm.structured.schema_instructions` writes such a paragraph).
            schema: The pydantic model the answer must fit.
            role: Usage tag, as in :meth:`complete`.
            max_reasks: Follow-up requests allowed after the first answer.
            json_schema: A narrower JSON schema of ``schema`` to send instead of its own (e.g.
                with an ``enum`` of known names, :func:`dataenvgym.llm.schema.with_enums`).
            **overrides: As in :meth:`complete`.

        Returns:
            The validated object, or None when every answer was invalid (counted in usage as
            an invalid output).

        Raises:
            LLMCallFailed, LLMRequestRejected, LLMUnavailable: As in :meth:`complete`.
        """
        params = self._structured_params(overrides, schema, json_schema)
        return self._structured(messages, schema, role, self._iteration, params, max_reasks)

    def complete_structured_many(
        self,
        batch: Sequence[Messages],
        schema: type[M],
        *,
        role: str,
        max_reasks: int = 2,
        skip_failures: bool = True,
        json_schema: dict[str, Any] | None = None,
        json_schemas: Sequence[dict[str, Any] | None] | None = None,
        **overrides: Unpack[SamplingOverrides],
    ) -> list[M | None]:
        """:meth:`complete_structured` over a batch, concurrently, in input order.

        Args:
            batch: One message list per object wanted.
            schema: The pydantic model every answer must fit.
            role: Usage tag.
            max_reasks: As in :meth:`complete_structured`.
            skip_failures: None (instead of raising) where a call failed after its retries;
                on by default since an invalid output is None already.
            json_schema: As in :meth:`complete_structured`, for every item.
            json_schemas: One narrower schema per item (None items: ``json_schema``).
            **overrides: As in :meth:`complete`.

        Returns:
            The objects, None where an item produced no valid object.
        """
        it = self._iteration
        narrowed = list(json_schemas) if json_schemas is not None else [None] * len(batch)
        if len(narrowed) != len(batch):
            raise ValueError("json_schemas needs one entry per item of the batch")
        jobs = [
            (messages, self._structured_params(overrides, schema, own or json_schema))
            for messages, own in zip(batch, narrowed, strict=True)
        ]

        def one(job: tuple[Messages, dict[str, Any]]) -> M | None:
            return self._structured(job[0], schema, role, it, job[1], max_reasks)

        return map_in_order(one, jobs, self.config.max_concurrency, skip_failures)

    # -- setup and teardown -----------------------------------------------------------------

    def check_connection(self) -> str | None:
        """Cheap requests to the endpoint: reachable, key accepted, model served.

        Returns:
            A note when the model could not be looked up in ``GET /models`` (the server
            lists no models), else None.

        Raises:
            LLMUnavailable: One line saying what to fix (unset key variable, unreachable
                base_url, refused key, unknown model, not an OpenAI-compatible endpoint).
        """
        return self.transport.check_connection()

    @property
    def output_mode(self) -> str:
        """The structured-output mode the endpoint takes (``json_schema`` until it refuses)."""
        return self.transport.modes.current

    def forget_invalid(self) -> int:
        """Drop from the cache the answers of structured calls that never gave a valid object.

        Called when a run stops for an unusable teacher: a resumed run then asks the (fixed)
        endpoint again instead of replaying those answers. Returns how many were dropped.
        """
        with self._invalid_lock:
            keys, self._invalid_keys = self._invalid_keys, []
        if self.cache is not None and keys:
            self.cache.delete(keys)
        return len(keys)

    def close(self) -> None:
        """Close the HTTP connections and the cache this client opened."""
        self.transport.close()
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------

    def _params(self, overrides: SamplingOverrides, json: bool) -> dict[str, Any]:
        # The logical request: what the cache key hashes. The wire request may differ (the
        # token-limit's name; response_format dropped by json_mode="auto"), not the meaning.
        cfg = self.config
        return {
            "temperature": overrides.get("temperature", cfg.temperature),
            "max_tokens": overrides.get("max_tokens", cfg.max_tokens),
            "seed": overrides.get("seed", cfg.seed),
            "response_format": dict(_JSON_OBJECT) if json else None,
        }

    def _structured_params(
        self, overrides: SamplingOverrides, schema: type[BaseModel], narrowed: dict[str, Any] | None
    ) -> dict[str, Any]:
        params = self._params(overrides, False)
        if self.config.output_modes() != ["text"]:
            params["response_format"] = response_schema(schema, narrowed).response_format()
        return params

    def _complete(
        self, messages: Messages, role: str, it: int | str | None, params: dict[str, Any]
    ) -> Completion:
        msgs = [dict(m) for m in messages]
        if self.cache is None:
            return self.transport.send(msgs, role, it, params)
        key = cache_key(self.config.model, msgs, params)
        with self._key_locks.hold(key):
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.record(role, it, cache_hits=1)
                return Completion(cached=True, **vars(hit))
            completion = self.transport.send(msgs, role, it, params)
            stored = CachedCompletion(
                text=completion.text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                finish_reason=completion.finish_reason,
                model=completion.model,
            )
            request = {"model": self.config.model, "messages": msgs, "params": params}
            self.cache.put(key, stored, request)
            return completion

    def _structured(
        self,
        messages: Messages,
        schema: type[M],
        role: str,
        it: int | str | None,
        params: dict[str, Any],
        max_reasks: int,
    ) -> M | None:
        keys: list[str] = []

        def ask(msgs: list[dict[str, Any]]) -> Completion:
            completion = self._complete(msgs, role, it, params)
            if self.cache is not None:
                keys.append(cache_key(self.config.model, [dict(m) for m in msgs], params))
            if completion.mode is not None:  # a fresh answer: did the endpoint honour JSON?
                has_json = next(iter_json_values(completion.text), None) is not None
                self.transport.modes.note_answer(completion.mode, has_json)
            return completion

        def count_reask() -> None:
            self.usage.record(role, it, reasks=1)

        result, error = complete_with_reasks(ask, messages, schema, max_reasks, count_reask)
        if result is None:
            self.usage.record(role, it, invalid_outputs=1)
            with self._invalid_lock:
                self._invalid_keys.extend(keys)
            logger.warning(
                "LLM %s: no valid %s after %d re-ask(s): %s",
                *(role, schema.__name__, max_reasks, error),
            )
        return result
