"""The schema-answering loopback server: valid instances of the schema it receives, and
nothing usable without one."""

from __future__ import annotations

import json
import re

import openai
import pytest
from pydantic import BaseModel

from dataenvgym.agents.llm.schemas import (
    GeneratedItems,
    OpenEndedPlan,
    SkillAllocation,
    SkillHypotheses,
    SubskillProposals,
    TreeDecision,
)
from dataenvgym.llm.schema import response_schema, with_enums, with_keywords
from dataenvgym.testing import SchemaServer, build_instance
from dataenvgym.testing.schema_server import PROSE

MODELS: list[type[BaseModel]] = [
    GeneratedItems,
    OpenEndedPlan,
    SkillAllocation,
    SkillHypotheses,
    SubskillProposals,
    TreeDecision,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_instances_of_the_teacher_schemas_validate(model: type[BaseModel]) -> None:
    schema = response_schema(model).schema
    for seed in range(5):
        model.model_validate(build_instance(schema, seed))


def test_instances_honour_enum_pattern_and_item_counts() -> None:
    enums = with_enums(
        SkillAllocation, {("$defs", "SkillShare", "properties", "skill"): ["a", "b"]}
    )
    assert enums is not None
    shares = SkillAllocation.model_validate(build_instance(enums, 1)).allocations
    assert shares and {s.skill for s in shares} <= {"a", "b"}

    pattern = r"^[0-9]{3}[-+*%][0-9]{2}[1-9]=$"
    narrowed = with_keywords(
        GeneratedItems,
        {
            ("properties", "items"): {"minItems": 7, "maxItems": 7},
            ("$defs", "GeneratedItem", "properties", "prompt"): {"pattern": pattern},
        },
    )
    items = GeneratedItems.model_validate(build_instance(narrowed, 2)).items
    assert len(items) == 7 and all(re.fullmatch(pattern, i.prompt) for i in items)


def test_different_seeds_give_different_strings() -> None:
    schema = response_schema(GeneratedItems).schema
    assert build_instance(schema, 1) != build_instance(schema, 2)
    assert build_instance(schema, 1) == build_instance(schema, 1)


def ask(client: openai.OpenAI, **kwargs: object) -> openai.types.chat.ChatCompletion:
    messages = [{"role": "user", "content": "Answer as JSON with a list of items."}]
    return client.chat.completions.create(model="fake-model", messages=messages, **kwargs)  # type: ignore[call-overload]


def test_server_answers_only_from_the_request_schema() -> None:
    rf = response_schema(GeneratedItems).response_format()
    with SchemaServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with_schema = ask(client, response_format=rf).choices[0].message.content
        json_object = ask(client, response_format={"type": "json_object"}).choices[0].message
        plain = ask(client).choices[0].message.content
        tool = response_schema(GeneratedItems).tool()
        choice = {"type": "function", "function": {"name": "GeneratedItems"}}
        called = ask(client, tools=[tool], tool_choice=choice).choices[0].message
    GeneratedItems.model_validate_json(with_schema or "")
    assert json.loads(json_object.content or "") == {}  # JSON, but it cannot know the shape
    assert plain == PROSE
    assert called.tool_calls
    function = getattr(called.tool_calls[0], "function", None)
    assert function is not None and function.name == "GeneratedItems"
    GeneratedItems.model_validate_json(function.arguments)


def test_server_refuses_modes_it_does_not_accept() -> None:
    rf = response_schema(GeneratedItems).response_format()
    with SchemaServer(accepts=("json_object",)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="unsupported response_format"):
            ask(client, response_format=rf)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="other", messages=[{"role": "user", "content": "x"}]
            )
