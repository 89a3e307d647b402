"""JSON extraction, validation and re-asks; structured calls against the loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from dataenvgym.llm import (
    LLMClient,
    LLMRequestRejected,
    StructuredOutputError,
    extract_json,
    parse_structured,
    schema_instructions,
)
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, FaultConfig, fake_server_config


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


class Item(BaseModel):
    question: str
    answer: int = Field(ge=0)


def ask(text: str = "Write one item as JSON.") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2]\n", [1, 2]),
        ('Sure! Here it is:\n```json\n{"a": "b"}\n```\nAnything else?', {"a": "b"}),
        ('```\n{"a": 2}\n```', {"a": 2}),
        (
            'The item is {"a": "has } and { inside", "b": [1, {"c": null}]} as requested.',
            {"a": "has } and { inside", "b": [1, {"c": None}]},
        ),
        ('<think>maybe {"a": 0}?</think>{"a": 3}', {"a": 3}),
        ('{bad} then {"a": 4}', {"a": 4}),
        ('```json\n{"a": 5}', {"a": 5}),  # unterminated fence
    ],
)
def test_extract_json(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", '{"a": 1', "{'a': 1}"])
def test_extract_json_reports_what_is_wrong(text: str) -> None:
    with pytest.raises(StructuredOutputError, match="JSON"):
        extract_json(text)


def test_parse_structured_skips_stray_json_in_prose() -> None:
    text = 'As shown in [1], here you go: {"question": "2+2", "answer": 4}'
    assert parse_structured(text, Item) == Item(question="2+2", answer=4)


def test_parse_structured_does_not_take_a_fragment_of_a_wrong_answer() -> None:
    # The inner dict would fit, but the answer as a whole is not an Item: re-ask, don't guess.
    text = '{"items": [{"question": "q", "answer": 1}]}'
    with pytest.raises(StructuredOutputError, match=r"question: Field required"):
        parse_structured(text, Item)
    with pytest.raises(StructuredOutputError, match=r"answer: Input should be greater"):
        parse_structured('{"question": "q", "answer": -1}', Item)


def test_schema_instructions_mention_json_and_fields() -> None:
    text = schema_instructions(Item)
    assert "JSON" in text and '"answer"' in text


# -- re-asks against the server -----------------------------------------------------------------


def reask_after_one_bad_answer(request: dict[str, Any]) -> str:
    last = request["messages"][-1]["content"]
    if "could not be used" in last:
        return '{"question": "3+4", "answer": 7}'
    return '{"question": "3+4", "answer": "seven"}'


def test_invalid_answer_is_reasked_with_the_error(tmp_path: Path) -> None:
    with FakeOpenAIServer(reask_after_one_bad_answer) as server:
        client = LLMClient(fake_server_config(server, cache_path=tmp_path / "c.sqlite"))
        item = client.complete_structured(ask(), Item, role="engine")
        assert item == Item(question="3+4", answer=7)
        assert server.calls == 2
        reask = server.requests[1]["messages"]
        assert reask[-2] == {
            "role": "assistant",
            "content": '{"question": "3+4", "answer": "seven"}',
        }
        assert "answer: Input should be a valid integer" in reask[-1]["content"]
        stats = client.usage.total()
        assert (stats.reasks, stats.invalid_outputs, stats.calls) == (1, 0, 2)

        # The re-ask chain is cached too: a warm re-run replays it without calls.
        again = LLMClient(fake_server_config(server, cache_path=tmp_path / "c.sqlite"))
        assert again.complete_structured(ask(), Item, role="engine") == item
        assert server.calls == 2
        assert again.usage.total().cache_hits == 2


def test_persistently_malformed_answer_gives_none_and_is_counted() -> None:
    with FakeOpenAIServer(lambda request: "{'question': 'x', 'answer': 1}") as server:
        client = LLMClient(fake_server_config(server))
        assert client.complete_structured(ask(), Item, role="engine", max_reasks=2) is None
        assert server.calls == 3
    stats = client.usage.total(role="engine")
    assert (stats.reasks, stats.invalid_outputs, stats.failures) == (2, 1, 1)


@pytest.mark.parametrize(("json_mode", "sent"), [(True, True), ("auto", True), (False, False)])
def test_json_mode_setting(json_mode: Any, sent: bool) -> None:
    with FakeOpenAIServer(lambda request: '{"question": "q", "answer": 1}') as server:
        client = LLMClient(fake_server_config(server, json_mode=json_mode))
        assert client.complete_structured(ask(), Item, role="engine") is not None
        assert ("response_format" in server.requests[0]) is sent


def test_auto_json_mode_falls_back_on_servers_without_it() -> None:
    reply = 'Here is the item: {"question": "q", "answer": 1}'
    with FakeOpenAIServer(lambda request: reply, json_mode=False) as server:
        client = LLMClient(fake_server_config(server, json_mode="auto"))
        items = client.complete_structured_many([ask("a"), ask("b")], Item, role="engine")
        assert items == [Item(question="q", answer=1)] * 2
        assert "response_format" not in server.requests[-1]

        strict = LLMClient(fake_server_config(server, json_mode=True))
        with pytest.raises(LLMRequestRejected) as info:
            strict.complete_structured(ask(), Item, role="engine")
        assert info.value.status_code == 400


def test_structured_batch_under_faults_loses_nothing_silently() -> None:
    faults = FaultConfig(rate=0.3, seed=11, hang_s=0.6, retry_after_s=0.01)
    n = 30
    with FakeOpenAIServer(
        lambda request: '{"question": "1+1", "answer": 2}', latency_s=0.01, faults=faults
    ) as server:
        client = LLMClient(fake_server_config(server, timeout_s=0.3, max_retries=2))
        items = client.complete_structured_many(
            [ask(f"#{i}") for i in range(n)], Item, role="engine", max_reasks=1
        )
    stats = client.usage.total()
    assert len(items) == n
    lost = sum(item is None for item in items)
    assert lost == stats.invalid_outputs + stats.failed_calls
    assert n - lost > n // 2
    assert server.fault_counts.get("truncated", 0) + server.fault_counts.get("malformed", 0) > 0
    assert stats.reasks > 0 and stats.retries > 0
