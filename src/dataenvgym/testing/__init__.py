"""Test doubles shipped with the package, for tests, benchmarks and offline demos."""

from __future__ import annotations

from dataenvgym.testing.fake_openai_server import (
    ALL_FAULTS,
    FakeOpenAIServer,
    FaultConfig,
    echo_responder,
)
from dataenvgym.testing.llm_config import TEST_KEY_ENV, fake_server_config
from dataenvgym.testing.scripted_teacher import ScriptedTeacher

__all__ = [
    "ALL_FAULTS",
    "TEST_KEY_ENV",
    "FakeOpenAIServer",
    "FaultConfig",
    "ScriptedTeacher",
    "echo_responder",
    "fake_server_config",
]
