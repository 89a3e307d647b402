"""The built-in tool-use queries: a short request and the plan of 1-3 calls that answers it.

Skills are tool families and subskills the tool combinations a query needs (one call, two
chained calls, three), plus two skills whose queries name a number in words or as the i-th
prime (:mod:`~dataenvgym.domains.number_words`). Each subskill is a list of
:class:`QueryTemplate` s whose placeholders have kinds (integer, item code, field, unit pair,
date, word, spelled number), so a query parses back into its gold plan: the verifier needs
nothing but the prompt.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from dataenvgym.domains import number_words as N
from dataenvgym.domains.tooluse.tools import table

Params = dict[str, Any]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Placeholder name -> the regex its values match. Names end in a digit when a query holds
# two of a kind (``{item1}``, ``{item2}``).
_KINDS = {
    "item": r"p[1-9]\d{2,3}",
    "field": r"price|weight|stock|length",
    "date": r"\d{4}-\d{2}-\d{2}",
    "word": r"[a-z]+",
    "unit": r"[a-z]+",
    "words": N.WORDS_PATTERN,
}
#: Words are drawn from syllables: a space of about 10^5 words, so a subskill never runs out
#: of distinct queries.
_ONSETS = "bcdfgklmnprstvz"
_VOWELS = "aeiou"
_FIELD_WORDS = {"price": "price", "weight": "weight", "stock": "stock", "length": "length"}
_UNIT_PAIRS = [
    ("km", "mi"),
    ("mi", "km"),
    ("m", "ft"),
    ("ft", "m"),
    ("cm", "in"),
    ("in", "cm"),
    ("kg", "lb"),
    ("lb", "kg"),
    ("c", "f"),
    ("f", "c"),
]
#: Units of the table's fields, for "<field> of <item> in <unit>" queries.
_FIELD_UNITS = {"weight": ("kg", "lb"), "length": ("cm", "in")}


def fill(text: str, params: Params) -> str:
    """Replace ``{name}`` placeholders by their values."""
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), text)


def _kind(name: str) -> str:
    return _KINDS.get(name.rstrip("0123456789"), r"\d+")


@dataclass(frozen=True)
class QueryTemplate:
    """A query pattern and the plan pattern that answers it.

    Attributes:
        prompt: The query with ``{name}`` placeholders.
        plan: The gold plan, same placeholders (see :mod:`~dataenvgym.domains.tooluse.tools`).
        params: Draws the placeholders' values.
        derive: Fills in the plan's placeholders that the query implies but does not spell
            out (a field's unit); raises ``KeyError`` for values that make no query.
    """

    prompt: str
    plan: str
    params: Callable[[random.Random], Params]
    derive: Callable[[Params], Params] | None = None

    def render(self, params: Params) -> tuple[str, str]:
        """The query and its gold plan."""
        return fill(self.prompt, params), fill(self.plan, params)

    def parse(self, prompt: str) -> Params | None:
        """The placeholders' values if ``prompt`` is one of this template's queries."""
        out, last = [], 0
        for match in _PLACEHOLDER.finditer(self.prompt):
            out.append(re.escape(self.prompt[last : match.start()]))
            out.append(f"(?P<{match.group(1)}>{_kind(match.group(1))})")
            last = match.end()
        out.append(re.escape(self.prompt[last:]))
        found = re.fullmatch("".join(out), prompt)
        if found is None:
            return None
        params: Params = {
            k: int(v) if _kind(k) == r"\d+" else v for k, v in found.groupdict().items()
        }
        if self.derive is not None:
            try:
                params = self.derive(params)
            except KeyError:
                return None
        return params if fill(self.prompt, params) == prompt else None


#: Primes are named among the first this many: with fewer, a prime's conversions would be
#: a small space, most of it held out.
_PRIME_COUNT = 3000
_prime_of = N.prime_of_first(_PRIME_COUNT)


def _with_prime(params: Callable[[random.Random], Params]) -> Callable[[random.Random], Params]:
    return N.with_prime(params, _PRIME_COUNT)


@cache
def _items() -> list[str]:
    return sorted(table())


def _item(rng: random.Random) -> str:
    return rng.choice(_items())


def _date(rng: random.Random) -> str:
    return (dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2500))).isoformat()


def _calc(rng: random.Random) -> Params:
    return {"a": rng.randint(2, 999), "b": rng.randint(2, 999), "c": rng.randint(2, 99)}


def _convert(rng: random.Random) -> Params:
    a, b = rng.choice(_UNIT_PAIRS)
    return {"v": rng.randint(1, 999), "unit1": a, "unit2": b, "k": rng.randint(2, 9)}


def _lookup(rng: random.Random) -> Params:
    item1, item2 = rng.sample(_items(), 2)
    return {"item1": item1, "item2": item2, "field": rng.choice(list(_FIELD_WORDS))}


def _lookup_unit(rng: random.Random) -> Params:
    field = rng.choice(sorted(_FIELD_UNITS))
    unit1, unit2 = _FIELD_UNITS[field]
    return {"item1": _item(rng), "field": field, "unit1": unit1, "unit2": unit2}


def _field_units(params: Params) -> Params:
    unit1, unit2 = _FIELD_UNITS[params["field"]]
    if params["unit2"] != unit2:
        raise KeyError(params["unit2"])
    return {**params, "unit1": unit1}


def _dates(rng: random.Random) -> Params:
    return {"date1": _date(rng), "date2": _date(rng), "n": rng.randint(1, 400)}


def _text(rng: random.Random) -> Params:
    syllables = rng.randint(2, 3)
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    return {"word": word, "k": rng.randint(2, 99)}


#: skill -> subskill -> (description, templates).
CATALOGUE: dict[str, dict[str, tuple[str, list[QueryTemplate]]]] = {
    "calculator": {
        "one_op": (
            "one arithmetic call",
            [
                QueryTemplate("{a} times {b}", "mul({a},{b})", _calc),
                QueryTemplate("{a} plus {b}", "add({a},{b})", _calc),
                QueryTemplate("{a} minus {b}", "sub({a},{b})", _calc),
                QueryTemplate("{a} divided by {b}", "div({a},{b})", _calc),
            ],
        ),
        "two_ops": (
            "two chained arithmetic calls",
            [
                QueryTemplate("{a} times {b}, plus {c}", "mul({a},{b})|add($1,{c})", _calc),
                QueryTemplate("{a} plus {b}, times {c}", "add({a},{b})|mul($1,{c})", _calc),
                QueryTemplate("{a} minus {b}, over {c}", "sub({a},{b})|div($1,{c})", _calc),
            ],
        ),
    },
    "units": {
        "convert": (
            "one unit conversion",
            [QueryTemplate("{v} {unit1} in {unit2}", "conv({v},{unit1},{unit2})", _convert)],
        ),
        "convert_scale": (
            "a conversion, then a multiplication",
            [
                QueryTemplate(
                    "{v} {unit1} in {unit2}, times {k}",
                    "conv({v},{unit1},{unit2})|mul($1,{k})",
                    _convert,
                )
            ],
        ),
    },
    "lookup": {
        "field": (
            "one table lookup",
            [QueryTemplate("{field} of {item1}", "look({item1},{field})", _lookup)],
        ),
        "field_convert": (
            "a lookup, then a unit conversion",
            [
                QueryTemplate(
                    "{field} of {item1} in {unit2}",
                    "look({item1},{field})|conv($1,{unit1},{unit2})",
                    _lookup_unit,
                    _field_units,
                )
            ],
        ),
        "compare": (
            "two lookups and their difference",
            [
                QueryTemplate(
                    "{field} of {item1} minus {item2}",
                    "look({item1},{field})|look({item2},{field})|sub($1,$2)",
                    _lookup,
                )
            ],
        ),
    },
    "dates": {
        "shift": (
            "a date shifted by days",
            [
                QueryTemplate("{n} days after {date1}", "dadd({date1},{n})", _dates),
                QueryTemplate("{n} days before {date1}", "dadd({date1},-{n})", _dates),
            ],
        ),
        "weekday": (
            "the weekday of a shifted date",
            [QueryTemplate("weekday {n} days after {date1}", "dadd({date1},{n})|wday($1)", _dates)],
        ),
        "span": (
            "days between two dates, in weeks",
            [
                QueryTemplate(
                    "weeks from {date1} to {date2}", "ddiff({date1},{date2})|div($1,7)", _dates
                )
            ],
        ),
    },
    "text": {
        "single": (
            "one text operation",
            [
                QueryTemplate("reverse {word}", "rev({word})", _text),
                QueryTemplate("uppercase {word}", "up({word})", _text),
            ],
        ),
        "chain": (
            "two chained text operations",
            [
                QueryTemplate("uppercase reversed {word}", "rev({word})|up($1)", _text),
                QueryTemplate("length of {word} times {k}", "len({word})|mul($1,{k})", _text),
            ],
        ),
    },
    "number_words": {
        "calc": (
            "arithmetic on a number written in words",
            [
                QueryTemplate(
                    "{words} times {b}", "mul({a},{b})", N.spelled("a", _calc), N.from_words("a")
                ),
                QueryTemplate(
                    "{words} plus {b}", "add({a},{b})", N.spelled("a", _calc), N.from_words("a")
                ),
            ],
        ),
        "convert": (
            "a unit conversion of a number written in words",
            [
                QueryTemplate(
                    "{words} {unit1} in {unit2}",
                    "conv({v},{unit1},{unit2})",
                    N.spelled("v", _convert),
                    N.from_words("v"),
                )
            ],
        ),
    },
    "number_facts": {
        "prime_calc": (
            "arithmetic on the i-th prime",
            [
                QueryTemplate(
                    "prime #{i} times {b}", "mul({p},{b})", _with_prime(_calc), _prime_of
                ),
                QueryTemplate("prime #{i} plus {b}", "add({p},{b})", _with_prime(_calc), _prime_of),
            ],
        ),
        "prime_convert": (
            "a unit conversion of the i-th prime",
            [
                QueryTemplate(
                    "prime #{i} {unit1} in {unit2}",
                    "conv({p},{unit1},{unit2})",
                    _with_prime(_convert),
                    _prime_of,
                )
            ],
        ),
    },
}

SKILL_DESCRIPTIONS = {
    "calculator": "arithmetic with the calculator tools",
    "units": "unit conversion",
    "lookup": "reading the item table",
    "dates": "date arithmetic",
    "text": "text operations",
    "number_words": "reading numbers written out in words",
    "number_facts": "numbers known by name, not by a rule",
}
