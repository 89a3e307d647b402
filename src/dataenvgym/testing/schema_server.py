"""A loopback server that answers only from the JSON schema in the request.

It stands in for a model behind constrained decoding (OpenAI's structured outputs, vLLM's
guided decoding, llama.cpp's and Ollama's ``format``): given
``response_format={"type": "json_schema", ...}`` or a forced function tool, it builds a valid
instance of *that* schema — enums, ``const``, ``pattern``, lengths, item counts and number
ranges honoured — with strings drawn from a generator seeded by the request, so repeated
requests get repeated answers and different requests different ones. It knows nothing else:
asked for ``json_object`` without a schema it answers ``{}``, and asked in plain text it
answers a sentence of prose. A client that does not send its schema therefore gets nothing
usable, as from a real schema-following server.

Example:
    >>> with SchemaServer() as server:
    ...     config = fake_server_config(server)   # dataenvgym.testing.llm_config
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Collection
from typing import Any

from dataenvgym.testing.fake_openai_server import FakeOpenAIServer, FaultConfig

try:  # Python 3.11+
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef,unused-ignore]
    import sre_parse as _sre_parse  # type: ignore[no-redef,unused-ignore]

#: What the server answers to a plain-text request: it has no idea what shape is wanted.
PROSE = "Here are some thoughts on your request, written as prose rather than data."
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "gamma", "harbor", "iris")
_MAX_REPEAT = 6  # open-ended regex repeats (``*``, ``+``) are drawn up to this many times


class SchemaInstanceError(ValueError):
    """A schema the builder cannot satisfy (e.g. an unresolvable ``$ref``)."""


def _regex_sample(pattern: str, rng: random.Random) -> str:
    """A string matching ``pattern`` (anchors, classes, repeats, groups, alternation)."""
    parsed = _sre_parse.parse(pattern)
    out: list[str] = []

    def emit(items: Any) -> None:
        for op, arg in items:
            if op is _sre.LITERAL:
                out.append(chr(arg))
            elif op is _sre.NOT_LITERAL:
                out.append(next(c for c in string.ascii_letters if ord(c) != arg))
            elif op is _sre.ANY:
                out.append(rng.choice(string.ascii_lowercase))
            elif op is _sre.IN:
                out.append(_class_sample(arg, rng))
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
                low, high, sub = arg
                high = low + _MAX_REPEAT if high is _sre.MAXREPEAT else high
                for _ in range(rng.randint(low, max(low, high))):
                    emit(sub)
            elif op is _sre.SUBPATTERN:
                emit(arg[-1])
            elif op is _sre.BRANCH:
                emit(rng.choice(arg[1]))
            elif op is _sre.CATEGORY:
                out.append(_category_sample(arg, rng))
            # AT (anchors) and anything else emit nothing

    emit(parsed)
    return "".join(out)


def _category_sample(category: Any, rng: random.Random) -> str:
    if category is _sre.CATEGORY_DIGIT:
        return rng.choice(string.digits)
    if category is _sre.CATEGORY_SPACE:
        return " "
    return rng.choice(string.ascii_lowercase)


def _class_sample(items: Any, rng: random.Random) -> str:
    choices: list[str] = []
    negate = False
    for op, arg in items:
        if op is _sre.NEGATE:
            negate = True
        elif op is _sre.LITERAL:
            choices.append(chr(arg))
        elif op is _sre.RANGE:
            choices.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is _sre.CATEGORY:
            choices.append(_category_sample(arg, rng))
    if negate:
        return next(c for c in string.ascii_letters if c not in choices)
    return rng.choice(choices) if choices else "x"


class InstanceBuilder:
    """Builds a valid instance of a JSON schema, drawing free choices from ``rng``."""

    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise SchemaInstanceError(f"cannot resolve $ref {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def build(self, schema: dict[str, Any], depth: int = 0) -> Any:
        if depth > 20:
            raise SchemaInstanceError("schema nests too deeply")
        if "$ref" in schema:
            return self.build(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
                return self.build(options[0], depth + 1)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part["$ref"]) if "$ref" in part else part)
            return self.build(merged, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = schema.get("required", list(props))
            return {k: self.build(props[k], depth + 1) for k in props if k in required}
        if kind == "array":
            low = int(schema.get("minItems", 1))
            high = int(schema.get("maxItems", max(low, 3)))
            n = min(high, max(low, 3))
            return [self.build(schema.get("items", {}), depth + 1) for _ in range(n)]
        if kind == "integer":
            return self._number(schema, integer=True)
        if kind == "number":
            return float(self._number(schema, integer=False))
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema)

    def _number(self, schema: dict[str, Any], *, integer: bool) -> int | float:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if integer else 0))
        high = schema.get("maximum", max(low, 0) + 20)
        if "exclusiveMaximum" in schema:
            high = schema["exclusiveMaximum"] - (1 if integer else 1e-6)
        if integer:
            return self.rng.randint(int(low), int(max(low, high)))
        return self.rng.uniform(float(low), float(max(low, high)))

    def _string(self, schema: dict[str, Any]) -> str:
        if "pattern" in schema:
            return _regex_sample(schema["pattern"], self.rng)
        low = int(schema.get("minLength", 1))
        high = int(schema.get("maxLength", max(low, 40)))
        words = [self.rng.choice(_WORDS) for _ in range(3)]
        text = "-".join(words) + f"-{self.rng.randrange(16**6):06x}"
        if len(text) < low:
            text += "x" * (low - len(text))
        return text[:high]


def build_instance(schema: dict[str, Any], seed: int | str = 0) -> Any:
    """A valid instance of ``schema``; the same seed gives the same instance.

    Raises:
        SchemaInstanceError: A ``$ref`` outside the document, or absurd nesting.
    """
    digest = hashlib.sha256(str(seed).encode()).digest()
    return InstanceBuilder(schema, random.Random(digest)).build(schema)


def _requested_schema(request: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """How the request asks for JSON: ("tools" | "json_schema" | "json_object" | "text", schema)."""
    tools = request.get("tools") or []
    if tools:
        return "tools", tools[0].get("function", {}).get("parameters") or {}
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return "json_schema", (fmt.get("json_schema") or {}).get("schema") or {}
    if fmt.get("type") == "json_object":
        return "json_object", None
    return "text", None


def schema_responder(request: dict[str, Any]) -> str | dict[str, Any]:
    """The answer to ``request`` built from its own schema only (see the module docstring).

    Returns:
        The message content, or ``{"tool_calls": [...]}`` for a forced function call.
    """
    mode, schema = _requested_schema(request)
    seed = json.dumps([request.get("messages"), request.get("seed")], sort_keys=True)
    if mode == "text":
        return PROSE
    if schema is None:
        return "{}"  # JSON, but it cannot know the shape without a schema
    arguments = json.dumps(build_instance(schema, seed))
    if mode == "tools":
        name = request["tools"][0]["function"].get("name", "answer")
        call = {
            "id": "call_0",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return {"tool_calls": [call]}
    return arguments


class SchemaServer(FakeOpenAIServer):
    """A :class:`FakeOpenAIServer` whose answers come only from the request's schema.

    Args:
        accepts: The ways of asking for JSON it takes, of ``json_schema``, ``json_object`` and
            ``tools``; a request using another gets a 400 saying it is unsupported (as servers
            without structured outputs answer).
        latency_s: As in :class:`FakeOpenAIServer`.
        faults: As in :class:`FakeOpenAIServer`.
        models: Model ids it serves and lists; others get a 404.
    """

    def __init__(
        self,
        *,
        accepts: Collection[str] = ("json_schema", "json_object", "tools"),
        latency_s: float = 0.0,
        faults: FaultConfig | None = None,
        models: Collection[str] = ("fake-model",),
    ) -> None:
        super().__init__(
            schema_responder,
            latency_s=latency_s,
            faults=faults,
            models=tuple(models),
            strict_models=True,
            accepts=accepts,
        )


__all__ = ["PROSE", "InstanceBuilder", "SchemaServer", "build_instance", "schema_responder"]
