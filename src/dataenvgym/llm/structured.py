"""Getting a validated pydantic object out of a model's free-form answer.

Servers differ: some honour JSON mode, many small local models still wrap their JSON in
prose, Markdown fences or a ``<think>`` block. Extraction therefore tries, in order: the whole
text, each fenced block, then every balanced ``{...}`` / ``[...]`` span — and the first one
that parses wins. What fails to parse or validate becomes a short error message that is sent
back to the model (a re-ask) rather than raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from dataenvgym.llm.prompts import load_prompt

if TYPE_CHECKING:
    from dataenvgym.llm.transport import Completion

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)(?:```|\Z)", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_CLOSER = {"{": "}", "[": "]"}
_MAX_ERROR_CHARS = 1500
# Openers tried by the balanced-span scan; bounds the quadratic worst case on long truncated
# answers (each start scans to the end) at a few hundred thousand character steps.
_MAX_STARTS = 64


class StructuredOutputError(ValueError):
    """An answer that holds no JSON, or JSON that does not fit the schema.

    Its message is written for the model: it is what a re-ask sends back.
    """


def _balanced_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of every balanced ``{...}`` / ``[...]`` span, leftmost first.

    Brackets inside JSON strings are skipped; a mismatched bracket ends the scan from that
    start.
    """
    starts = [i for i, char in enumerate(text) if char in _CLOSER][:_MAX_STARTS]
    for start in starts:
        stack = [_CLOSER[text[start]]]
        in_string = escaped = False
        for pos in range(start + 1, len(text)):
            c = text[pos]
            if in_string:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c in _CLOSER:
                stack.append(_CLOSER[c])
            elif c in "}]":
                if c != stack.pop():
                    break
                if not stack:
                    yield start, pos + 1
                    break


def iter_json_values(text: str) -> Iterator[Any]:
    """Yield every JSON value found in ``text``, most likely intended first.

    Order: the whole text, fenced blocks, then balanced spans left to right. ``<think>``
    blocks of reasoning models are removed first. Spans nested inside a value already yielded
    are skipped: a fragment of a wrong answer must not pass for the answer.
    """
    text = _THINK.sub("", text).strip()
    covered: list[tuple[int, int]] = []

    def decode(start: int, end: int) -> tuple[bool, Any]:
        try:
            value = json.loads(text[start:end])
        except ValueError:
            return False, None
        covered.append((start, end))
        return True, value

    ok, value = decode(0, len(text))
    if ok:
        yield value
        return
    spans = [m.span(2) for m in _FENCE.finditer(text)]
    for start, end in [*spans, *_balanced_spans(text)]:
        if any(s <= start < e for s, e in covered):
            continue
        ok, value = decode(start, end)
        if ok:
            yield value


def _no_json_error(text: str) -> StructuredOutputError:
    text = _THINK.sub("", text).strip()
    if not text:
        return StructuredOutputError("the answer was empty; expected a JSON value")
    snippet = text if len(text) <= 200 else text[:200] + "..."
    return StructuredOutputError(
        f"the answer contains no valid JSON (it may be truncated or use single quotes): {snippet!r}"
    )


def extract_json(text: str) -> Any:
    """Find the first JSON value in a model's answer.

    Args:
        text: The raw answer: bare JSON, JSON in ```json fences, or JSON after some prose.

    Returns:
        The decoded JSON value (a dict or a list; a bare scalar only if the whole text is one).

    Raises:
        StructuredOutputError: When no candidate decodes.
    """
    for value in iter_json_values(text):
        return value
    raise _no_json_error(text)


def format_validation_error(err: ValidationError) -> str:
    """A compact, model-readable list of what is wrong: ``location: message`` per error."""
    lines = []
    for item in err.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"{loc}: {item['msg']}")
    text = "the JSON does not match the schema: " + "; ".join(lines)
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "..."


def parse_structured(text: str, schema: type[M]) -> M:
    """Extract JSON from ``text`` and validate it as ``schema``.

    Args:
        text: The model's answer.
        schema: The pydantic model the answer must fit.

    Returns:
        The validated object.

    Every JSON value in the text is tried, so a stray ``[1]`` in leading prose does not hide
    the object after it; the error reported is that of the first value found.

    Raises:
        StructuredOutputError: With a message fit to send back to the model.
    """
    first_error: ValidationError | None = None
    for value in iter_json_values(text):
        try:
            return schema.model_validate(value)
        except ValidationError as err:
            first_error = first_error or err
    if first_error is None:
        raise _no_json_error(text)
    raise StructuredOutputError(format_validation_error(first_error)) from first_error


def schema_json(schema: type[BaseModel]) -> str:
    """The JSON schema of ``schema``, compact enough to put in a prompt."""
    return json.dumps(schema.model_json_schema(), separators=(",", ":"))


def schema_instructions(schema: type[BaseModel]) -> str:
    """A prompt paragraph asking for JSON that fits ``schema`` (mentions "JSON", as JSON mode
    on OpenAI requires)."""
    return load_prompt("structured_schema", schema=schema_json(schema))


def reask_message(error: str, schema: type[BaseModel]) -> dict[str, str]:
    """The user message that carries a parse/validation error back to the model."""
    return {
        "role": "user",
        "content": load_prompt("structured_reask", error=error, schema=schema_json(schema)),
    }


def complete_with_reasks(
    ask: Callable[[list[dict[str, Any]]], Completion],
    messages: Sequence[Mapping[str, Any]],
    schema: type[M],
    max_reasks: int,
    on_reask: Callable[[], None],
) -> tuple[M | None, str | None]:
    """Ask, parse, and on failure re-ask with the error, at most ``max_reasks`` times.

    Each re-ask appends the model's own answer and a user message carrying the error, so the
    model sees what it wrote and what was wrong with it.

    Args:
        ask: Sends a conversation and returns the completion.
        messages: The first conversation.
        schema: The pydantic model the answer must fit.
        max_reasks: Follow-up requests allowed after the first answer.
        on_reask: Called before each re-ask (to count it).

    Returns:
        ``(object, None)`` on success, ``(None, last error)`` when every answer failed.
    """
    msgs = [dict(m) for m in messages]
    error = ""
    for attempt in range(max_reasks + 1):
        completion = ask(msgs)
        try:
            return parse_structured(completion.text, schema), None
        except StructuredOutputError as err:
            error = str(err)
            if completion.finish_reason == "length":
                error += " (the answer was cut off at the token limit: answer more briefly)"
        if attempt < max_reasks:
            on_reask()
            assistant = {"role": "assistant", "content": completion.text}
            msgs = [*msgs, assistant, reask_message(error, schema)]
    return None, error
