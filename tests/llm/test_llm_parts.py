"""The client's parts on their own: cache, usage counters, prompt templates, fake server."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from dataenvgym.llm import LLMCache, UsageTracker, cache_key, list_prompts, load_prompt
from dataenvgym.llm.cache import CachedCompletion
from dataenvgym.testing import FakeOpenAIServer, FaultConfig

MSGS: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


# -- cache --------------------------------------------------------------------------------------


def test_cache_key_is_canonical_and_sensitive() -> None:
    base = cache_key("m", MSGS, {"temperature": 0.5, "seed": 1})
    assert base == cache_key(
        "m", [{"content": "hi", "role": "user"}], {"seed": 1, "temperature": 0.5}
    )
    assert base == cache_key("m", MSGS, {"temperature": 0.5, "seed": 1, "response_format": None})
    assert base != cache_key("m2", MSGS, {"temperature": 0.5, "seed": 1})
    assert base != cache_key("m", MSGS, {"temperature": 0.5, "seed": 2})
    assert base != cache_key(
        "m", [{"role": "user", "content": "hi!"}], {"temperature": 0.5, "seed": 1}
    )


def test_cache_persists_uses_wal_and_takes_concurrent_writes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite"
    cache = LLMCache(path)
    entry = CachedCompletion(
        text="t", prompt_tokens=3, completion_tokens=1, finish_reason="stop", model="m"
    )

    def write(worker: int) -> None:
        for i in range(20):
            cache.put(f"{worker}-{i}", entry, {"messages": MSGS})
            assert cache.get(f"{worker}-{i}") == entry

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 80 and cache.get("missing") is None
    cache.close()

    with LLMCache(path) as reopened:
        assert reopened.get("3-19") == entry
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        request = conn.execute("SELECT request FROM completions LIMIT 1").fetchone()[0]
        assert json.loads(request) == {"messages": MSGS}


# -- usage --------------------------------------------------------------------------------------


def test_usage_is_thread_safe_and_costed(tmp_path: Path) -> None:
    usage = UsageTracker(price_input_per_1m=2.0, price_output_per_1m=None)

    def work() -> None:
        for _ in range(500):
            usage.record("engine", 1, calls=1, prompt_tokens=10, completion_tokens=2)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage.record("policy", None, invalid_outputs=1, failed_calls=2)
    total = usage.total()
    assert (total.calls, total.prompt_tokens, total.failures) == (2000, 20000, 3)
    report = usage.to_dict()
    assert report["total"]["cost_usd"] == pytest.approx(20000 * 2.0 / 1e6)
    assert report["by_iteration"]["untagged"]["failures"] == 3
    assert UsageTracker().to_dict()["total"]["cost_usd"] is None
    with pytest.raises(ValueError, match="unknown usage counters"):
        usage.record("engine", calls_made=1)


# -- prompts ------------------------------------------------------------------------------------


def test_prompt_templates_are_package_files() -> None:
    assert "structured_reask" in list_prompts()
    text = load_prompt("structured_reask", error="E!", schema='{"type": "object"}')
    assert "E!" in text and '{"type": "object"}' in text
    assert "$error" in load_prompt("structured_reask")
    with pytest.raises(KeyError, match=r"\$schema"):
        load_prompt("structured_reask", error="E")
    with pytest.raises(FileNotFoundError, match="available"):
        load_prompt("no_such_prompt")


# -- fake server --------------------------------------------------------------------------------


def test_fake_server_faults_are_seeded() -> None:
    def run() -> dict[str, int]:
        faults = FaultConfig(rate=0.3, kinds=("500", "truncated", "malformed"), seed=5)
        with FakeOpenAIServer(lambda r: '{"a": 1}', faults=faults) as server:
            sdk = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            texts = []
            for _ in range(40):
                try:
                    texts.append(
                        sdk.chat.completions.create(model="m", messages=MSGS)
                        .choices[0]
                        .message.content
                    )
                except openai.InternalServerError:
                    texts.append("500")
            assert server.calls == 40
            counts = server.fault_counts
            assert texts.count("500") == counts.get("500", 0)
            assert texts.count('{"a"') == counts.get("truncated", 0)  # cut in half
            assert texts.count("{{'a': 1}") == counts.get("malformed", 0)
            return counts

    first = run()
    assert first == run()
    assert 4 <= sum(first.values()) <= 24


def test_fake_server_routes_and_responder_errors() -> None:
    def broken(request: dict[str, object]) -> str:
        raise RuntimeError("boom")

    with FakeOpenAIServer(broken) as server:
        sdk = openai.OpenAI(
            base_url=server.base_url.removesuffix("/v1"), api_key="k", max_retries=0
        )
        with pytest.raises(openai.InternalServerError, match="boom"):
            sdk.chat.completions.create(model="m", messages=MSGS)  # /chat/completions route
        assert server.responder_errors == ["RuntimeError('boom')"]
        assert [
            m.id for m in openai.OpenAI(base_url=server.base_url, api_key="k").models.list()
        ] == ["fake-model"]
