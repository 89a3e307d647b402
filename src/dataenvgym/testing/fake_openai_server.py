"""An OpenAI-compatible chat-completions server on 127.0.0.1 with scripted answers and faults.

Tests, benchmarks and offline demos point the real ``openai`` SDK at it, so the whole client
path (HTTP, retries, concurrency, cache) runs for real without a model. It speaks just enough
of the wire format: ``POST /v1/chat/completions`` (also ``/chat/completions``) and
``GET /v1/models``. Each request is handled in its own thread after a fixed latency, like a
server that batches freely; a seeded fault mode turns a fraction of calls into 429s, 500s,
501s, hangs past the client's timeout, or truncated / malformed JSON content. For a server
that answers from the request's JSON schema alone, see :mod:`dataenvgym.testing.schema_server`.

Example:
    >>> with FakeOpenAIServer(lambda req: '{"answer": 4}', latency_s=0.2) as server:
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

#: Given the request body, returns the assistant message content, or
#: ``{"tool_calls": [...]}`` to answer with tool calls instead.
Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]
FaultKind = Literal["429", "500", "501", "timeout", "truncated", "malformed"]
ALL_FAULTS: tuple[FaultKind, ...] = ("429", "500", "timeout", "truncated", "malformed")


@dataclass(frozen=True)
class FaultConfig:
    """Which calls fail, and how.

    Attributes:
        rate: Fraction of chat calls that get a fault, drawn from a seeded generator.
        kinds: Faults to draw from, uniformly.
        seed: Seed of the draws: the same sequence of requests meets the same faults.
        retry_after_s: ``Retry-After`` sent with a 429 (fractional seconds are allowed).
        hang_s: How long a "timeout" fault sleeps before answering; set it above the
            client's timeout.
    """

    rate: float = 0.0
    kinds: Sequence[FaultKind] = ALL_FAULTS
    seed: int = 0
    retry_after_s: float = 0.01
    hang_s: float = 2.0


def echo_responder(request: dict[str, Any]) -> str:
    """Default responder: repeats the last user message."""
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    return f"echo: {content}"


def count_tokens(text: str) -> int:
    """A rough token count (4 characters a token), enough for usage accounting in tests."""
    return max(1, (len(text) + 3) // 4) if text else 0


class FakeOpenAIServer:
    """A background HTTP server in the OpenAI chat-completions wire format.

    Args:
        responder: Maps the request body to the answer's content; default echoes.
        latency_s: Fixed delay before every answer (each request sleeps in its own thread).
        faults: Fault mode; default none.
        api_key: When set, requests without ``Authorization: Bearer <api_key>`` get a 401.
        models: Model names served; with ``strict_models`` others get a 404.
        strict_models: Reject unknown model names with a 404.
        json_mode: Whether ``response_format`` is accepted; False answers it with a 400, like
            servers without JSON mode.
        accepts: Which ways of asking for JSON are accepted, of ``json_schema``,
            ``json_object`` and ``tools`` (None: all, as far as ``json_mode`` allows); others
            get a 400 saying they are unsupported.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        faults: FaultConfig | None = None,
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        strict_models: bool = False,
        json_mode: bool = True,
        accepts: Collection[str] | None = None,
    ) -> None:
        self.responder = responder or echo_responder
        self.latency_s = latency_s
        self._faults = faults or FaultConfig()
        self.api_key = api_key
        self.models = tuple(models)
        self.strict_models = strict_models
        self.json_mode = json_mode
        self.accepts = None if accepts is None else frozenset(accepts)
        self._lock = threading.Lock()
        self._rng = random.Random(self._faults.seed)
        self._requests: list[dict[str, Any]] = []
        self._fault_counts: Counter[str] = Counter()
        self._in_flight = 0
        self.max_in_flight = 0
        #: Exceptions raised by the responder (each answered with a 500).
        self.responder_errors: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        httpd = _HTTPServer(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the SDK, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() or use `with`")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def faults(self) -> FaultConfig:
        """The fault mode; assigning a new one reseeds the fault draws."""
        return self._faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    # -- what it saw --------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Chat-completion requests received, refused and faulted ones included."""
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat-completion requests received, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were injected."""
        with self._lock:
            return dict(self._fault_counts)

    def reset_counts(self) -> None:
        """Forget the requests and faults seen so far (the fault generator is not reseeded)."""
        with self._lock:
            self._requests.clear()
            self._fault_counts.clear()
            self.max_in_flight = 0

    # -- request handling (called from handler threads) -------------------------------------

    def _admit(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(body)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _draw_fault(self) -> FaultKind | None:
        with self._lock:
            if self._faults.rate <= 0 or self._rng.random() >= self._faults.rate:
                return None
            fault: FaultKind = self._rng.choice(list(self._faults.kinds))
            self._fault_counts[fault] += 1
            return fault

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for handlers hung by a timeout fault
    request_queue_size = 128  # the default 5 drops bursts of concurrent connects


def _completion_body(request: dict[str, Any], content: str | dict[str, Any]) -> dict[str, Any]:
    prompt = "".join(str(m.get("content", "")) for m in request.get("messages", []))
    prompt_tokens = count_tokens(prompt) + 3 * len(request.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": content}
    finish = "stop"
    if isinstance(content, dict):  # tool calls
        message = {"role": "assistant", "content": None, "tool_calls": content["tool_calls"]}
        finish = "tool_calls"
        content = json.dumps(content["tool_calls"])
    completion_tokens = count_tokens(content)
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _json_request_kind(request: dict[str, Any]) -> str | None:
    """How a request asks for JSON: "tools", "json_schema", "json_object" or None."""
    if request.get("tools"):
        return "tools"
    fmt = request.get("response_format") or {}
    return str(fmt["type"]) if isinstance(fmt, dict) and fmt.get("type") else None


def _malform(content: str) -> str:
    # Single quotes and a dangling brace: what small models write when they "almost" do JSON.
    return "{" + content.replace('"', "'")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms to each.
    disable_nagle_algorithm = True
    server_state: FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks print their own output

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer

    def _authorized(self) -> bool:
        state = self.server_state
        if state.api_key is None or self.headers.get("Authorization") == f"Bearer {state.api_key}":
            return True
        self._send_json(
            401,
            _error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
        )
        return False

    def do_GET(self) -> None:
        if self.path.rstrip("/") not in ("/v1/models", "/models"):
            self._send_json(404, _error_body(f"no route {self.path}", "invalid_request_error"))
            return
        if not self._authorized():
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
            for m in self.server_state.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(f"no route {self.path}", "invalid_request_error"))
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, _error_body("body is not JSON", "invalid_request_error"))
            return
        state = self.server_state
        state._admit(request)
        try:
            if self._authorized():
                self._answer(state, request)
        finally:
            state._leave()

    def _answer(self, state: FakeOpenAIServer, request: dict[str, Any]) -> None:
        if state.strict_models and request.get("model") not in state.models:
            msg = f"The model `{request.get('model')}` does not exist."
            self._send_json(404, _error_body(msg, "invalid_request_error", "model_not_found"))
            return
        if request.get("response_format") and not state.json_mode:
            msg = "response_format is not supported by this server"
            self._send_json(400, _error_body(msg, "invalid_request_error"))
            return
        asked = _json_request_kind(request)
        if asked and state.accepts is not None and asked not in state.accepts:
            msg = f"{asked} is not supported by this server (unsupported response_format)"
            self._send_json(400, _error_body(msg, "invalid_request_error"))
            return
        fault = state._draw_fault()
        if state.latency_s > 0:
            time.sleep(state.latency_s)
        if fault == "429":
            headers = {"Retry-After": f"{state.faults.retry_after_s:g}"}
            self._send_json(429, _error_body("Rate limit reached.", "rate_limit_error"), headers)
            return
        if fault == "500":
            self._send_json(500, _error_body("The server had an error.", "server_error"))
            return
        if fault == "501":
            self._send_json(501, _error_body("Not Implemented", "server_error"))
            return
        if fault == "timeout":
            time.sleep(state.faults.hang_s)
        try:
            content = state.responder(request)
        except Exception as err:  # a broken test responder: say so instead of hanging up
            state.responder_errors.append(repr(err))
            self._send_json(500, _error_body(f"responder raised {err!r}", "server_error"))
            return
        if isinstance(content, str) and fault == "truncated":
            content = content[: len(content) // 2]
        elif isinstance(content, str) and fault == "malformed":
            content = _malform(content)
        self._send_json(200, _completion_body(request, content))
