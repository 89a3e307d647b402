"""JSON schemas for structured outputs, sent in the request itself.

A server that honours ``response_format={"type": "json_schema", ...}`` (OpenAI's structured
outputs, vLLM's guided decoding, llama.cpp's and Ollama's ``format``) can only produce a valid
answer when it sees the schema. This module turns a pydantic model into the request's
``json_schema`` block, made *strict-compatible* where the model allows it: every object
closed (``additionalProperties: false``), every property listed in ``required`` and no
``default`` keywords. A field that has a default stays optional for validation (pydantic
reads the answer), it is only always written by the model; string lengths are checked when
the answer is validated rather than sent. A model with a free-form mapping
(``dict[str, X]``) cannot be strict; it is sent with ``strict: false`` and its own schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
#: Keywords OpenAI's strict mode refuses (``default``; string lengths). They are only dropped
#: from the schema sent: the answer is still validated against the full pydantic model.
_DROPPED = ("default", "minLength", "maxLength")


@dataclass(frozen=True)
class ResponseSchema:
    """The ``json_schema`` block of a request.

    Attributes:
        name: The schema's name (``[a-zA-Z0-9_-]``, at most 64 characters).
        schema: The JSON schema.
        strict: Whether the schema is strict-compatible (sent as ``strict: true``).
    """

    name: str
    schema: dict[str, Any]
    strict: bool

    def response_format(self) -> dict[str, Any]:
        """``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.schema, "strict": self.strict},
        }

    def tool(self) -> dict[str, Any]:
        """The same schema as one function tool (for servers that prefer tool calling)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": "Give the answer as the arguments of this function.",
                "parameters": self.schema,
                "strict": self.strict,
            },
        }


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON schema, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A strict-compatible copy of ``schema``, and whether that was possible.

    Args:
        schema: A JSON schema as pydantic writes it.

    Returns:
        ``(strict copy, True)``, or ``(the schema unchanged, False)`` when an object in it is
        an open mapping (its keys are not known in advance).
    """
    out = copy.deepcopy(schema)
    for node in list(_objects(out)):
        for key in _DROPPED:
            node.pop(key, None)
        if node.get("type") != "object":
            continue
        extra = node.get("additionalProperties")
        if "properties" not in node or (extra is not None and extra is not False):
            return schema, False
        node["additionalProperties"] = False
        node["required"] = list(node["properties"])
    return out, True


@cache
def _model_schema(model: type[BaseModel]) -> tuple[str, bool]:
    import json

    strict, ok = strict_schema(model.model_json_schema())
    return json.dumps(strict), ok


def response_schema(model: type[BaseModel], schema: dict[str, Any] | None = None) -> ResponseSchema:
    """The request's schema for ``model`` (or for a refined ``schema`` of it).

    Args:
        model: The pydantic model the answer is validated against.
        schema: A narrower JSON schema of the same model (e.g. with an ``enum`` of the known
            skill names, see :func:`with_enum`); made strict like the model's own.

    Returns:
        The schema block, strict where possible.
    """
    import json

    if schema is None:
        text, ok = _model_schema(model)
        body = json.loads(text)
    else:
        body, ok = strict_schema(schema)
    name = _NAME.sub("_", model.__name__)[:64] or "answer"
    return ResponseSchema(name=name, schema=body, strict=ok)


def with_keywords(
    model: type[BaseModel], keywords: Mapping[tuple[str, ...], Mapping[str, Any]]
) -> dict[str, Any]:
    """``model``'s JSON schema with extra keywords at some properties.

    Args:
        model: The pydantic model.
        keywords: Keys from the schema's root to a property, e.g.
            ``("$defs", "GeneratedItem", "properties", "prompt")``, and the keywords to set
            there (``{"pattern": "^[0-9]{3}[+]$"}``).

    Returns:
        The narrowed schema (a fresh dict).
    """
    schema = model.model_json_schema()
    for path, extra in keywords.items():
        node: Any = schema
        for key in path:
            node = node[key]
        node.update(copy.deepcopy(dict(extra)))
    return schema


def with_enums(
    model: type[BaseModel], enums: Mapping[tuple[str, ...], Sequence[str]]
) -> dict[str, Any] | None:
    """``model``'s JSON schema with the strings at some paths restricted to known values.

    A constrained decoder then picks a known name (a skill, a subskill) instead of inventing
    one; the pydantic model itself is unchanged (an unknown name is still readable and
    ignored by the code that reads the answer).

    Args:
        model: The pydantic model.
        enums: Keys from the schema's root to a string property (as in
            :func:`with_keywords`) and the strings allowed there. An empty list leaves that
            property open (an empty enum admits nothing).

    Returns:
        The narrowed schema, or None when no path got values.
    """
    given = {path: {"enum": sorted(set(v))} for path, v in enums.items() if v}
    return with_keywords(model, given) if given else None
