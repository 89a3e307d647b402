"""The LLM client against the loopback server, through the real ``openai`` SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataenvgym.llm import (
    Completion,
    LLMCallFailed,
    LLMClient,
    LLMRequestRejected,
)
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, FaultConfig, fake_server_config


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_s=0.01) as srv:
        yield srv


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_complete_returns_text_and_counts_tokens(server: FakeOpenAIServer) -> None:
    with LLMClient(fake_server_config(server)) as client:
        out = client.complete(user("hello"), role="engine")
    assert out.text == "echo: hello"
    assert not out.cached and out.prompt_tokens > 0 and out.completion_tokens > 0
    assert server.calls == 1
    request = server.requests[0]
    assert request["model"] == "fake-model" and request["seed"] == 0
    assert "response_format" not in request
    stats = client.usage.total()
    assert (stats.calls, stats.prompt_tokens) == (1, out.prompt_tokens)


def test_warm_cache_makes_zero_calls(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "run" / "llm_cache.sqlite"
    batch = [user(f"item {i}") for i in range(5)]
    with LLMClient(fake_server_config(server, cache)) as client:
        first = client.complete_many(batch, role="engine")
    assert server.calls == 5

    with LLMClient(fake_server_config(server, cache)) as client:
        again = client.complete_many(batch, role="engine")
        stats = client.usage.total()
    assert server.calls == 5, "a warm cache must not reach the server"
    assert [c.text for c in again] == [c.text for c in first]
    assert all(c.cached for c in again)
    assert (stats.calls, stats.cache_hits, stats.prompt_tokens) == (0, 5, 0)


def test_cache_key_covers_sampling_parameters(server: FakeOpenAIServer, tmp_path: Path) -> None:
    with LLMClient(fake_server_config(server, tmp_path / "c.sqlite")) as client:
        client.complete(user("x"), role="engine")
        client.complete(user("x"), role="engine")  # hit
        client.complete(user("x"), role="engine", seed=1)
        client.complete(user("x"), role="engine", temperature=0.0)
        client.complete(user("x"), role="engine", max_tokens=7)
        client.complete(user("x"), role="engine", json_mode=True)
    assert server.calls == 5
    assert server.requests[1]["seed"] == 1 and server.requests[3]["max_tokens"] == 7
    assert server.requests[4]["response_format"] == {"type": "json_object"}


def test_key_never_lands_in_config_dump(server: FakeOpenAIServer) -> None:
    dumped = json.dumps(fake_server_config(server).model_dump(mode="json"))
    assert "test-key" not in dumped and TEST_KEY_ENV in dumped


def test_concurrent_calls_overlap_and_keep_order() -> None:
    n, latency = 16, 0.2
    with FakeOpenAIServer(latency_s=latency) as server:
        client = LLMClient(fake_server_config(server, max_concurrency=8))
        out = client.complete_many([user(str(i)) for i in range(n)], role="engine")
        client.close()
    assert [c.text for c in out] == [f"echo: {i}" for i in range(n)]
    # Overlap is read from the server (requests in flight at once), not from the wall
    # clock, which a loaded machine stretches; the speed-up is bench/llm_concurrency.py's.
    assert 2 <= server.max_in_flight <= 8


def test_identical_prompts_in_flight_make_one_call(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_s=0.05) as server:
        client = LLMClient(fake_server_config(server, tmp_path / "c.sqlite"))
        out = client.complete_many([user("same")] * 6, role="engine")
        client.close()
    assert server.calls == 1
    assert sum(c.cached for c in out) == 5


def test_fault_mode_every_call_succeeds_or_is_counted(tmp_path: Path) -> None:
    faults = FaultConfig(rate=0.3, seed=3, hang_s=0.6, retry_after_s=0.01)
    n = 40
    with FakeOpenAIServer(latency_s=0.01, faults=faults) as server:
        config = fake_server_config(server, tmp_path / "c.sqlite", timeout_s=0.3, max_retries=2)
        client = LLMClient(config)
        out = client.complete_many(
            [user(f"q{i}") for i in range(n)], role="engine", skip_failures=True
        )
        client.close()
    stats = client.usage.total()
    assert len(out) == n
    assert sum(c is None for c in out) == stats.failed_calls
    assert stats.calls + stats.failed_calls == n
    assert stats.retries > 0
    # Every request the server saw is accounted for: a success, a retry, or a final failure.
    assert server.calls == stats.calls + stats.retries + stats.failed_calls
    assert sum(server.fault_counts.values()) >= stats.retries


def test_retry_after_is_honoured_then_call_fails_typed(server: FakeOpenAIServer) -> None:
    server.faults = FaultConfig(rate=1.0, kinds=("429",), retry_after_s=0.1)
    client = LLMClient(fake_server_config(server, max_retries=2, backoff_initial_s=0.0))
    start = time.perf_counter()
    with pytest.raises(LLMCallFailed) as info:
        client.complete(user("x"), role="policy")
    assert time.perf_counter() - start >= 0.2  # two waits of the server's Retry-After
    assert info.value.attempts == 3 and info.value.role == "policy"
    assert "429" in str(info.value)
    assert server.calls == 3
    stats = client.usage.total(role="policy")
    assert (stats.retries, stats.failed_calls, stats.calls) == (2, 1, 0)


def test_complete_many_raises_unless_skipping(server: FakeOpenAIServer) -> None:
    server.faults = FaultConfig(rate=1.0, kinds=("500",))
    client = LLMClient(fake_server_config(server, max_retries=0))
    with pytest.raises(LLMCallFailed):
        client.complete_many([user("a"), user("b")], role="engine")
    assert client.complete_many([user("c")], role="engine", skip_failures=True) == [None]


def test_wrong_key_is_rejected_at_once() -> None:
    with FakeOpenAIServer(api_key="the-right-key") as server:
        client = LLMClient(fake_server_config(server, max_retries=5))
        with pytest.raises(LLMRequestRejected) as info:
            client.complete(user("x"), role="engine")
        assert server.calls == 1, "a 401 must not be retried"
    assert info.value.status_code == 401
    assert TEST_KEY_ENV in str(info.value)
    assert client.usage.total().failed_calls == 1


def test_unknown_model_is_rejected_at_once() -> None:
    with FakeOpenAIServer(strict_models=True) as server:
        client = LLMClient(fake_server_config(server, model="no-such-model"))
        with pytest.raises(LLMRequestRejected, match="no-such-model") as info:
            client.complete(user("x"), role="engine")
        assert server.calls == 1
    assert info.value.status_code == 404


def test_usage_per_role_and_iteration(server: FakeOpenAIServer, tmp_path: Path) -> None:
    config = fake_server_config(
        server, tmp_path / "c.sqlite", price_input_per_1m=1.0, price_output_per_1m=2.0
    )
    client = LLMClient(config)
    client.complete(user("setup"), role="skill_discovery")
    with client.iteration(0):
        client.complete(user("plan"), role="policy")
        client.complete_many([user("a"), user("b")], role="engine")
    client.set_iteration(1)
    client.complete_many([user("a"), user("c")], role="engine")  # "a" is a cache hit
    report = client.usage.to_dict()
    path = client.usage.write_json(tmp_path / "run" / "llm_usage.json")

    assert report["total"]["calls"] == 5 and report["total"]["cache_hits"] == 1
    assert report["by_role"]["engine"]["calls"] == 3
    assert report["by_iteration"]["untagged"]["calls"] == 1
    assert report["by_iteration_role"]["0"]["policy"]["calls"] == 1
    assert report["by_iteration_role"]["1"]["engine"] == {
        **report["by_iteration_role"]["1"]["engine"],
        "calls": 1,
        "cache_hits": 1,
    }
    total = report["total"]
    expected_cost = (total["prompt_tokens"] * 1.0 + total["completion_tokens"] * 2.0) / 1e6
    assert total["cost_usd"] == pytest.approx(expected_cost)
    assert json.loads(path.read_text()) == report


def test_warm_cache_needs_no_key(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "c.sqlite"
    with LLMClient(fake_server_config(server, cache)) as client:
        client.complete(user("x"), role="engine")
    monkeypatch.delenv(TEST_KEY_ENV)
    with LLMClient(fake_server_config(server, cache)) as client:
        out: Completion = client.complete(user("x"), role="engine")
    assert out.cached and server.calls == 1


def test_after_a_call_gives_up_the_next_get_one_attempt_until_one_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer(faults=FaultConfig(rate=1.0, kinds=("500",))) as server:
        client = LLMClient(fake_server_config(server, max_retries=3))
        for _ in range(3):
            with pytest.raises(LLMCallFailed):
                client.complete([{"role": "user", "content": "x"}], role="engine")
        assert server.calls == 4 + 1 + 1  # a full try, then one attempt each
        server.faults = FaultConfig()  # the endpoint recovers
        client.complete([{"role": "user", "content": "y"}], role="engine")
        server.faults = FaultConfig(rate=1.0, kinds=("500",))
        before = server.calls
        with pytest.raises(LLMCallFailed):
            client.complete([{"role": "user", "content": "z"}], role="engine")
        assert server.calls - before == 4  # full retries again after a success
