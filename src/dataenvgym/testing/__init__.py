"""Test doubles shipped with the package, for tests, benchmarks and offline demos."""

from __future__ import annotations

from dataenvgym.testing.fake_openai_server import (
    ALL_FAULTS,
    FakeOpenAIServer,
    FaultConfig,
    echo_responder,
)

__all__ = ["ALL_FAULTS", "FakeOpenAIServer", "FaultConfig", "echo_responder"]
