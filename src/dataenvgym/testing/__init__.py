"""Test doubles shipped with the package, for tests, benchmarks and offline demos."""

from __future__ import annotations

from dataenvgym.testing.fake_openai_server import (
    ALL_FAULTS,
    FakeOpenAIServer,
    FaultConfig,
    echo_responder,
)
from dataenvgym.testing.llm_config import TEST_KEY_ENV, fake_server_config
from dataenvgym.testing.schema_server import SchemaServer, build_instance, schema_responder
from dataenvgym.testing.scripted_teacher import ScriptedTeacher

__all__ = [
    "ALL_FAULTS",
    "TEST_KEY_ENV",
    "FakeOpenAIServer",
    "FaultConfig",
    "SchemaServer",
    "ScriptedTeacher",
    "build_instance",
    "echo_responder",
    "fake_server_config",
    "schema_responder",
]
