"""``check_connection``: one clear line for each way an endpoint can be unusable."""

from __future__ import annotations

import socket

import pytest

from dataenvgym.llm import LLMClient, LLMConfig, LLMRequestRejected, LLMUnavailable
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, FaultConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_reachable_server_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer(api_key="k", models=("m",)) as server:
        note = LLMClient(
            LLMConfig(model="m", base_url=server.base_url, api_key_env=TEST_KEY_ENV)
        ).check_connection()
        assert server.calls == 0  # GET /models lists it: no chat call, no cost
    assert note is None


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_KEY_ENV, raising=False)
    client = LLMClient(
        LLMConfig(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=TEST_KEY_ENV)
    )
    with pytest.raises(LLMUnavailable) as info:
        client.check_connection()
    message = str(info.value)
    assert TEST_KEY_ENV in message and "\n" not in message
    # A call reports the same, instead of an SDK error.
    with pytest.raises(LLMUnavailable, match=TEST_KEY_ENV):
        client.complete([{"role": "user", "content": "x"}], role="engine")


def test_keyless_local_server() -> None:
    with FakeOpenAIServer() as server:
        client = LLMClient(LLMConfig(model="m", base_url=server.base_url, api_key_env=None))
        client.check_connection()
        assert client.complete([{"role": "user", "content": "x"}], role="engine").text == "echo: x"


def test_unreachable_server_names_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    client = LLMClient(LLMConfig(model="m", base_url=base_url, api_key_env=TEST_KEY_ENV))
    with pytest.raises(LLMUnavailable) as info:
        client.check_connection()
    message = str(info.value)
    assert base_url in message and "base_url" in message and "\n" not in message


def test_refused_key_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "wrong")
    with FakeOpenAIServer(api_key="right") as server:
        client = LLMClient(LLMConfig(model="m", base_url=server.base_url, api_key_env=TEST_KEY_ENV))
        with pytest.raises(LLMUnavailable) as info:
            client.check_connection()
    assert f"${TEST_KEY_ENV}" in str(info.value) and "401" in str(info.value)


def test_wrong_api_root_falls_back_and_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    # GET /models 404s, so the check tries a 1-token completion, which 404s too.
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer() as server:
        base_url = server.base_url + "/oops"
        client = LLMClient(LLMConfig(model="m", base_url=base_url, api_key_env=TEST_KEY_ENV))
        with pytest.raises(LLMUnavailable, match="404") as info:
            client.check_connection()
        assert server.calls == 0  # neither route exists under /v1/oops
    assert base_url in str(info.value) and "'/v1'" in str(info.value)


def test_unknown_model_is_named_with_the_listed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer(models=("llama-3", "qwen-2"), strict_models=True) as server:
        client = LLMClient(
            LLMConfig(model="gpt-x", base_url=server.base_url, api_key_env=TEST_KEY_ENV)
        )
        with pytest.raises(LLMUnavailable) as info:
            client.check_connection()
    message = str(info.value)
    assert "'gpt-x'" in message and "llama-3" in message and "qwen-2" in message
    assert "\n" not in message


def test_an_unlisted_alias_that_answers_passes_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    # Gateways serve aliases they do not list: the 1-token request decides.
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer(models=("llama-3",)) as server:
        client = LLMClient(
            LLMConfig(model="alias", base_url=server.base_url, api_key_env=TEST_KEY_ENV)
        )
        note = client.check_connection()
        assert server.calls == 1
    assert note is not None and "'alias'" in note


class _NoModelsRoute(FakeOpenAIServer):
    """A server without GET /models (404), serving any model."""

    def start(self) -> _NoModelsRoute:
        super().start()
        assert self._httpd is not None
        handler = self._httpd.RequestHandlerClass

        def do_get(request: object) -> None:
            request._send_json(404, {"error": {"message": "no route"}})  # type: ignore[attr-defined]

        handler.do_GET = do_get  # type: ignore[attr-defined]
        return self


def test_a_server_without_a_model_list_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with _NoModelsRoute() as server:
        client = LLMClient(LLMConfig(model="m", base_url=server.base_url, api_key_env=TEST_KEY_ENV))
        note = client.check_connection()
        assert server.calls == 1  # the 1-token request
    assert note is not None and "lists no models" in note


def test_501_says_the_endpoint_is_not_openai_compatible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "k")
    with FakeOpenAIServer(faults=FaultConfig(rate=1.0, kinds=("501",))) as server:
        client = LLMClient(
            LLMConfig(model="fake-model", base_url=server.base_url, api_key_env=TEST_KEY_ENV)
        )
        with pytest.raises(LLMRequestRejected) as info:
            client.complete([{"role": "user", "content": "x"}], role="engine")
        assert server.calls == 1  # a 501 is not retried
    assert "OpenAI-compatible" in str(info.value) and info.value.status_code == 501
