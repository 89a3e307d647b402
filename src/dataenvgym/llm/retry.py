"""Which faults are worth retrying, and how long to wait before the next attempt.

The SDK's own retries are switched off (``max_retries=0``) so that every retry goes through
here: counted in the usage report, with a backoff the config (and the tests) can shorten.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

import openai
from tenacity import RetryCallState

#: Status codes that a later identical request may well get through (the SDK's own list).
TRANSIENT_STATUS = frozenset({408, 409, 429})
#: 5xx answers that say the server cannot do this at all (not implemented, wrong version).
PERMANENT_5XX = frozenset({501, 505})


class EmptyResponse(Exception):
    """A 200 answer without any choice (some proxies do this under load); worth a retry."""


def is_transient(exc: BaseException) -> bool:
    """True for faults a retry can fix: timeouts, connection errors, 408/409/429 and 5xx
    (except 501/505: an endpoint that does not implement the request never will)."""
    if isinstance(exc, (openai.APIConnectionError, EmptyResponse)):  # incl. APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return status in TRANSIENT_STATUS or (status >= 500 and status not in PERMANENT_5XX)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a server asked for (``retry-after-ms`` or ``retry-after``), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    # Retry-After may also be an HTTP date.
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def make_wait(
    initial_s: float, max_s: float, retry_after_max_s: float
) -> Callable[[RetryCallState], float]:
    """A tenacity wait: the server's Retry-After when it is small enough, else backoff.

    Backoff is exponential (``initial_s * 2**n``, capped at ``max_s``) plus up to ``initial_s``
    of random jitter, so that many workers hit by the same 429 do not come back in lockstep.
    """

    # Written out rather than tenacity's wait_exponential_jitter, whose arguments changed
    # between the tenacity versions this package supports.
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_seconds(exc) if exc is not None else None
        if asked is not None and asked <= retry_after_max_s:
            return asked
        exponent = min(30, max(0, state.attempt_number - 1))
        return min(max_s, initial_s * 2.0**exponent) + random.uniform(0, initial_s)

    return wait
