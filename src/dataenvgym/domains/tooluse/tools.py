"""A small deterministic tool API, the plan format, its parser and its executor.

A plan is one line of calls separated by ``|``; an argument ``$k`` is the result of the
``k``-th call (from 1)::

    look(p217,weight)|conv($1,kg,lb)|mul($2,3)

Tools (arguments are numbers, words, item codes or ISO dates):

========================  ==========================================================
``add/sub/mul/div(x,y)``  calculator (``div`` rounds to 2 decimals)
``conv(v,from,to)``       unit conversion: km mi m ft cm in kg lb c f
``look(item,field)``      the shipped table of 300 items: price weight stock length
``dadd(date,days)``       a date shifted by a number of days (negative goes back)
``ddiff(d1,d2)``          days from ``d1`` to ``d2``
``wday(date)``            the weekday's name, lowercase
``rev(w)/up(w)/len(w)``   text: reversed, uppercased, length
========================  ==========================================================

Numeric results are rounded to 2 decimals after every call, so gold and predicted plans that
make the same calls give identical answers.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

Value = int | float | str

#: Unit conversions: (from, to) -> function.
_LINEAR = {
    ("km", "mi"): 0.621371,
    ("mi", "km"): 1.609344,
    ("m", "ft"): 3.28084,
    ("ft", "m"): 0.3048,
    ("km", "m"): 1000.0,
    ("m", "km"): 0.001,
    ("cm", "in"): 1 / 2.54,
    ("in", "cm"): 2.54,
    ("kg", "lb"): 2.20462,
    ("lb", "kg"): 0.453592,
}
UNITS = sorted({u for pair in _LINEAR for u in pair} | {"c", "f"})
TABLE_FIELDS = ("price", "weight", "stock", "length")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_CALL = re.compile(r"^\s*([a-z]+)\((.*)\)\s*$")


class ToolError(ValueError):
    """A call that cannot run: unknown tool, wrong arguments, bad reference."""


@dataclass(frozen=True)
class Call:
    """One parsed call: the tool's name and its raw argument texts."""

    tool: str
    args: tuple[str, ...]


@cache
def table() -> dict[str, dict[str, float]]:
    """The shipped item table: item code -> field -> value."""
    text = resources.files("dataenvgym.domains.tooluse").joinpath("table.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return {row["item"]: {f: float(row[f]) for f in TABLE_FIELDS} for row in rows}


def _number(value: Value) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ToolError(f"expected a number, got {value!r}") from None
    return float(value)


def _date(value: Value) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ToolError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _convert(value: Value, unit_from: Value, unit_to: Value) -> float:
    v, a, b = _number(value), str(unit_from), str(unit_to)
    if (a, b) == ("c", "f"):
        return v * 9 / 5 + 32
    if (a, b) == ("f", "c"):
        return (v - 32) * 5 / 9
    if (a, b) not in _LINEAR:
        raise ToolError(f"cannot convert {a} to {b}")
    return v * _LINEAR[(a, b)]


def _look(item: Value, field: Value) -> float:
    row = table().get(str(item))
    if row is None:
        raise ToolError(f"no item {item!r} in the table")
    if str(field) not in row:
        raise ToolError(f"no field {field!r}; fields: {', '.join(TABLE_FIELDS)}")
    return row[str(field)]


def _div(x: Value, y: Value) -> float:
    divisor = _number(y)
    if divisor == 0:
        raise ToolError("division by zero")
    return _number(x) / divisor


TOOLS: dict[str, tuple[int, Callable[..., Value]]] = {
    "add": (2, lambda x, y: _number(x) + _number(y)),
    "sub": (2, lambda x, y: _number(x) - _number(y)),
    "mul": (2, lambda x, y: _number(x) * _number(y)),
    "div": (2, _div),
    "conv": (3, _convert),
    "look": (2, _look),
    "dadd": (2, lambda d, n: (_date(d) + dt.timedelta(days=int(_number(n)))).isoformat()),
    "ddiff": (2, lambda a, b: (_date(b) - _date(a)).days),
    "wday": (1, lambda d: WEEKDAYS[_date(d).weekday()]),
    "rev": (1, lambda w: str(w)[::-1]),
    "up": (1, lambda w: str(w).upper()),
    "len": (1, lambda w: len(str(w))),
}


def parse_plan(text: str) -> list[Call]:
    """Split a plan into calls. Raises :class:`ToolError` if it is not in the plan format."""
    calls = []
    for part in text.strip().split("|"):
        match = _CALL.match(part)
        if match is None:
            raise ToolError(f"not a call: {part!r}")
        raw = match.group(2)
        args = tuple(a.strip() for a in raw.split(",")) if raw.strip() else ()
        calls.append(Call(match.group(1), args))
    return calls


def canonical(value: Value) -> str:
    """The answer's canonical text: numbers rounded to 2 decimals without trailing zeros."""
    if isinstance(value, str):
        return value
    rounded = round(float(value), 2)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.2f}".rstrip("0").rstrip(".")


def execute(calls: list[Call]) -> Value:
    """Run the calls in order, resolving ``$k`` references; the last call's result."""
    results: list[Value] = []
    for call in calls:
        if call.tool not in TOOLS:
            raise ToolError(f"unknown tool {call.tool!r}")
        arity, function = TOOLS[call.tool]
        if len(call.args) != arity:
            raise ToolError(f"{call.tool} takes {arity} arguments, got {len(call.args)}")
        args: list[Value] = []
        for arg in call.args:
            if arg.startswith("$"):
                index = int(arg[1:]) if arg[1:].isdigit() else 0
                if not 1 <= index <= len(results):
                    raise ToolError(f"{arg} does not name an earlier call")
                args.append(results[index - 1])
            else:
                args.append(arg)
        try:
            value = function(*args)
        except (OverflowError, ValueError, IndexError) as err:
            raise ToolError(f"{call.tool}{call.args}: {err}") from err
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ToolError(f"{call.tool}{call.args} is not a finite number")
            value = round(value, 2)
        results.append(value)
    if not results:
        raise ToolError("empty plan")
    return results[-1]


def run_plan(text: str) -> tuple[list[str], str | None]:
    """The plan's tool names and its canonical answer (``None`` when it fails to run)."""
    try:
        calls = parse_plan(text)
    except ToolError:
        return [], None
    tools = [c.tool for c in calls]
    try:
        return tools, canonical(execute(calls))
    except ToolError:
        return tools, None
