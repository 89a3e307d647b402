"""Plain values with their exact types, as JSON: how results leave the sandbox.

The sandboxed process never decides whether a solution is right. It calls the solution on
each input and writes back what came out, encoded here as *tagged JSON*; the harness decodes
that text (never an object the solution made), puts it in a canonical form and compares it
with the canonical form of the reference's value. So ``1``, ``1.0`` and ``True`` differ, an
object whose ``__eq__`` is always true is just an unsupported type, and malformed text is a
wrong answer of that solution only.

Encoding (one JSON value per Python value):

* ``None``, ``bool``, ``int``, ``str``: the JSON value itself (JSON keeps ``true`` apart
  from ``1``; a bare JSON number with a fraction or exponent is not accepted);
* ``float``: ``["f", repr(x)]`` (so ``nan``, ``inf`` and ``-0.0`` survive);
* ``list`` / ``tuple``: ``["l", item, ...]`` / ``["t", item, ...]``;
* ``dict`` (and ``collections.Counter``, ``OrderedDict``, ``defaultdict``, which compare as
  dicts): ``["d", [key, value], ...]``; order does not matter, as for ``dict ==``;
* anything else: ``["u", type name]``; an exception raised by the call: ``["e", message]``.
  Neither ever equals an expected value.
"""

from __future__ import annotations

import collections
import json
import math
from typing import Any

#: Deepest nesting accepted from the sandbox (deeper text is malformed).
MAX_DEPTH = 40

_DICT_TYPES = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)


class MalformedValue(ValueError):
    """Text from the sandbox that is not a tagged value."""


def encode(value: Any, _depth: int = 0) -> Any:
    """Tagged-JSON form of a (trusted) Python value.

    Raises:
        TypeError: ``value`` holds a type outside the encoding.
    """
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return ["f", repr(value)]
    if _depth > MAX_DEPTH:
        raise TypeError("value nested too deeply")
    if kind is list:
        return ["l", *(encode(item, _depth + 1) for item in value)]
    if kind is tuple:
        return ["t", *(encode(item, _depth + 1) for item in value)]
    if kind in _DICT_TYPES:
        return ["d", *([encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items())]
    raise TypeError(f"cannot encode a value of type {kind.__name__}")


def decode(node: Any) -> Any:
    """The Python value of a (trusted) tagged-JSON node; inverse of :func:`encode`."""
    if isinstance(node, list):
        tag, items = node[0], node[1:]
        if tag == "f":
            return float(items[0])
        if tag == "l":
            return [decode(item) for item in items]
        if tag == "t":
            return tuple(decode(item) for item in items)
        if tag == "d":
            return {decode(k): decode(v) for k, v in items}
        raise ValueError(f"cannot decode tag {tag!r}")
    return node


def canonical(node: Any) -> str:
    """A string equal for two nodes exactly when their values are equal with exact types.

    Accepts any JSON-decoded data (it may come from the sandbox) and checks it.

    Raises:
        MalformedValue: ``node`` is not a tagged value (or is too deep).
    """
    return json.dumps(_normal(node, 0), separators=(",", ":"))


def _normal(node: Any, depth: int) -> Any:
    """``node`` checked, with floats spelled by value and dict items in a fixed order."""
    kind = type(node)
    if node is None or kind in (bool, int, str):
        return node
    if kind is not list or not node or type(node[0]) is not str:
        raise MalformedValue(f"not a tagged value: {_clip(node)}")
    if depth > MAX_DEPTH:
        raise MalformedValue("value nested too deeply")
    tag = node[0]
    if tag in ("l", "t"):
        return [tag, *(_normal(item, depth + 1) for item in node[1:])]
    if tag == "f":
        if len(node) != 2 or type(node[1]) is not str or len(node[1]) > 40:
            raise MalformedValue("bad float")
        try:
            number = float(node[1])
        except ValueError:
            raise MalformedValue("bad float") from None
        # -0.0 == 0.0 and nan is nan: compare floats by value, not by spelling.
        return ["f", "nan" if math.isnan(number) else repr(number + 0.0)]
    if tag == "d":
        pairs: dict[str, Any] = {}
        for item in node[1:]:
            if type(item) is not list or len(item) != 2:
                raise MalformedValue("bad dict item")
            key = _normal(item[0], depth + 1)
            text = json.dumps(key, separators=(",", ":"))
            if text in pairs:
                raise MalformedValue("duplicate dict key")
            pairs[text] = [key, _normal(item[1], depth + 1)]
        return ["d", *(pairs[text] for text in sorted(pairs))]
    if tag in ("u", "e"):
        # Never equal to an expected value (those are encoded from real values).
        return ["!" + tag, str(node[1])[:200] if len(node) > 1 else ""]
    raise MalformedValue(f"unknown tag {tag!r}")


def describe(node: Any, limit: int = 120) -> str:
    """A short human-readable rendering of a node for error messages."""
    try:
        if isinstance(node, list) and node and node[0] == "e":
            return f"raised {str(node[1])[:limit]}" if len(node) > 1 else "raised"
        if isinstance(node, list) and node and node[0] == "u":
            return f"a {str(node[1])[:40]} (not a plain value)" if len(node) > 1 else "?"
        return _clip(decode(node), limit)
    except Exception:
        return _clip(node, limit)


def _clip(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
