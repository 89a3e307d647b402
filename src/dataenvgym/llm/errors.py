"""Typed errors of the LLM client, so callers can tell "skip this item" from "fix your setup"."""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every error raised by ``dataenvgym.llm``."""


class LLMCallFailed(LLMError):
    """A call still failed after all retries of transient faults (429, 5xx, timeouts).

    The failure is already counted in the client's usage; the caller decides whether to skip
    the item or stop.

    Attributes:
        role: The role tag of the failed call.
        attempts: How many requests were made.
    """

    def __init__(self, message: str, *, role: str, attempts: int) -> None:
        super().__init__(message)
        self.role = role
        self.attempts = attempts


class LLMRequestRejected(LLMError):
    """The server refused the request for a reason retrying cannot fix (400, 401, 403, 404).

    Usually a setup problem (wrong key, unknown model, unsupported parameter), so it is raised
    at once, without retries.

    Attributes:
        status_code: The HTTP status the server answered with.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMUnavailable(LLMError):
    """The endpoint cannot be used at all: missing API key, server unreachable, key refused.

    Its message is one line that says what to fix; the CLI prints it before any training.
    """
