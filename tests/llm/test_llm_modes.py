"""Structured outputs in the request: the schema sent (strict where possible), the fallback
json_schema -> json_object -> text found once per endpoint, and tool calling."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from dataenvgym.agents.llm.schemas import GeneratedItems, TreeDecision
from dataenvgym.llm import LLMClient, LLMRequestRejected
from dataenvgym.llm.schema import response_schema, strict_schema
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, SchemaServer, fake_server_config


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


def ask(text: str = "items please") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class Mapping_(BaseModel):
    counts: dict[str, int] = Field(default_factory=dict)


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = response_schema(TreeDecision)
    assert schema.strict and schema.name == "TreeDecision"
    objects = [schema.schema, *schema.schema["$defs"].values()]
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    assert '"default"' not in str(schema.schema).replace("'", '"')
    # An open mapping cannot be strict: sent as is, strict false.
    loose, ok = strict_schema(Mapping_.model_json_schema())
    assert not ok and loose == Mapping_.model_json_schema()
    assert response_schema(Mapping_).strict is False


def test_the_request_carries_the_schema_and_a_schema_server_answers_it() -> None:
    with SchemaServer() as server:
        client = LLMClient(fake_server_config(server))
        items = client.complete_structured_many(
            [ask(f"#{i}") for i in range(4)], GeneratedItems, role="engine"
        )
        sent = server.requests[0]["response_format"]
    assert all(isinstance(i, GeneratedItems) and i.items for i in items)
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == response_schema(GeneratedItems).schema
    stats = client.usage.total()
    assert stats.invalid_outputs == 0 and stats.reasks == 0
    assert client.output_mode == "json_schema"


@pytest.mark.parametrize(("accepts", "mode"), [(("json_object",), "json_object"), ((), "text")])
def test_a_refused_mode_steps_down_once_and_is_recorded(
    accepts: tuple[str, ...], mode: str
) -> None:
    def responder(request: dict[str, Any]) -> str:
        return '{"items": [{"prompt": "1+1=", "answer": "2"}]}'

    with FakeOpenAIServer(responder, accepts=accepts) as server:
        client = LLMClient(fake_server_config(server))
        for i in range(3):
            assert client.complete_structured(ask(f"#{i}"), GeneratedItems, role="engine")
        refused = sum(
            1
            for r in server.requests
            if (r.get("response_format") or {}).get("type") == "json_schema"
        )
    assert client.output_mode == mode
    assert refused == 1  # found once, then kept
    changes = client.transport.modes.to_dict()["changes"]
    assert changes[0]["from"] == "json_schema" and "400" in changes[0]["reason"]


def test_an_unrelated_400_does_not_change_the_mode() -> None:
    with FakeOpenAIServer(json_mode=False) as server:  # every request with a format: 400
        client = LLMClient(fake_server_config(server, structured_output="json_schema"))
        with pytest.raises(LLMRequestRejected):
            client.complete_structured(ask(), GeneratedItems, role="engine")
    assert client.output_mode == "json_schema"  # no lower mode to try: kept


def test_an_endpoint_that_ignores_the_schema_steps_down() -> None:
    with FakeOpenAIServer(lambda request: "Sure! Here are some ideas.") as server:
        client = LLMClient(fake_server_config(server))
        for i in range(4):
            assert (
                client.complete_structured(
                    ask(f"#{i}"), GeneratedItems, role="engine", max_reasks=0
                )
                is None
            )
    report = client.transport.modes.to_dict()
    assert report["mode"] == "text"
    assert [c["to"] for c in report["changes"]] == ["json_object", "text"]


def test_tools_mode_asks_for_a_forced_function_call() -> None:
    with SchemaServer() as server:
        client = LLMClient(fake_server_config(server, structured_output="tools"))
        item = client.complete_structured(ask(), GeneratedItems, role="engine")
        sent = server.requests[0]
    assert isinstance(item, GeneratedItems) and item.items
    assert sent["tools"][0]["function"]["name"] == "GeneratedItems"
    assert sent["tool_choice"]["function"]["name"] == "GeneratedItems"
    assert "response_format" not in sent


def test_json_mode_false_sends_no_format() -> None:
    with SchemaServer() as server:
        client = LLMClient(fake_server_config(server, json_mode=False))
        assert (
            client.complete_structured(ask(), GeneratedItems, role="engine", max_reasks=0) is None
        )
        assert all("response_format" not in r for r in server.requests)


def test_invalid_answers_are_forgotten_on_request(tmp_path: Any) -> None:
    with FakeOpenAIServer(lambda request: "prose only") as server:
        client = LLMClient(fake_server_config(server, tmp_path / "c.sqlite", json_mode=False))
        assert (
            client.complete_structured(ask(), GeneratedItems, role="engine", max_reasks=1) is None
        )
        assert client.cache is not None and len(client.cache) == 2
        assert client.forget_invalid() == 2 and len(client.cache) == 0
