"""The tool API, the plan format and its executor."""

from __future__ import annotations

import pytest

from dataenvgym.domains.tooluse.tools import (
    TABLE_FIELDS,
    ToolError,
    canonical,
    execute,
    parse_plan,
    run_plan,
    table,
)


def test_the_shipped_table() -> None:
    rows = table()
    assert len(rows) == 3000 and "p101" in rows and "p3100" in rows
    assert set(rows["p217"]) == set(TABLE_FIELDS)


@pytest.mark.parametrize(
    ("plan", "answer"),
    [
        ("add(2,3)", "5"),
        ("div(10,4)", "2.5"),
        ("div(10,3)", "3.33"),
        ("conv(10,km,mi)", "6.21"),
        ("conv(100,c,f)", "212"),
        ("conv(212,f,c)", "100"),
        ("dadd(2024-02-27,3)", "2024-03-01"),
        ("dadd(2024-03-01,-1)", "2024-02-29"),
        ("ddiff(2024-01-01,2024-03-01)", "60"),
        ("wday(2024-03-01)", "friday"),
        ("rev(abc)|up($1)", "CBA"),
        ("len(hello)|mul($1,3)", "15"),
        ("dadd(2024-01-01,10)|wday($1)", "thursday"),
        ("add(1,2)|add($1,10)|mul($2,$1)", "39"),
    ],
)
def test_tools_and_chains(plan: str, answer: str) -> None:
    assert run_plan(plan)[1] == answer


def test_lookups_read_the_table() -> None:
    row = table()["p217"]
    assert run_plan("look(p217,price)") == (["look"], canonical(row["price"]))
    tools, answer = run_plan("look(p217,weight)|conv($1,kg,lb)")
    assert tools == ["look", "conv"] and answer == canonical(round(row["weight"] * 2.20462, 2))


@pytest.mark.parametrize(
    "plan",
    [
        "nope(1)",
        "add(1)",
        "add($2,1)",
        "look(p9999,price)",
        "look(p101,colour)",
        "conv(1,kg,km)",
        "div(1,0)",
        "wday(2024-13-01)",
        "mul(1e308,1e308)",
        "dadd(2024-01-01,99999999)",
    ],
)
def test_bad_calls_raise_tool_errors(plan: str) -> None:
    with pytest.raises(ToolError):
        execute(parse_plan(plan))
    assert run_plan(plan)[1] is None


def test_text_that_is_not_a_plan() -> None:
    assert run_plan("the answer is 5") == ([], None)
    assert run_plan("") == ([], None)
    assert [c.tool for c in parse_plan(" add(1,2) | mul($1,2) ")] == ["add", "mul"]
