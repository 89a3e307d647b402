"""The built-in code tasks: short descriptions, one-expression solutions, hidden checks.

A task is "write the body of ``f`` from a description". The description is one short line
(``keep items above 41``), the solution is the expression ``f`` returns
(``[x for x in a if x>41]``): short enough that a character-level student of about a million
parameters can write it, yet real Python that is run against hidden tests.

Every subskill is a small set of :class:`Template` s. A template is a description pattern with
typed placeholders, the solution's pattern, a *reference function* written independently of
the solution text (an answer is right when it returns exactly what the reference returns on
every hidden input) and an input generator (:mod:`~dataenvgym.domains.code.edge_inputs`)
that puts the inputs where wrong answers part ways with the reference (a threshold and its
neighbours, every remainder, both sides of slice bounds, ties). Because the pattern can be
parsed back, any datum's prompt determines its checks: the verifier never has to trust
tests that came with a datum.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataenvgym.domains import number_words as N
from dataenvgym.domains.code import draws as D
from dataenvgym.domains.code import edge_inputs as E

Params = dict[str, Any]
Reference = Callable[[Any], Any]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Template:
    """One description pattern of a subskill.

    Attributes:
        prompt: Description with ``{name}`` placeholders (``keep items above {n}``).
        solution: The returned expression, same placeholders.
        arg: The argument's name in ``def f(<arg>)``.
        params: Draws the placeholders' values.
        reference: Params -> the function the solution must compute.
        inputs: (rng, params) -> inputs that discriminate wrong solutions, edge cases first.
        derive: The params with the placeholders a prompt does not spell out, from those it
            does (``words`` -> ``n``); raises ``KeyError`` when the prompt's values name
            nothing, as the tool-use templates' ``derive`` does.
    """

    prompt: str
    solution: str
    arg: str
    params: Callable[[random.Random], Params]
    reference: Callable[[Params], Reference]
    inputs: Callable[[random.Random, Params], list[Any]]
    derive: Callable[[Params], Params] | None = None

    def render(self, params: Params) -> tuple[str, str]:
        """The prompt and the reference solution for ``params``."""
        return fill(self.prompt, params), fill(self.solution, params)

    def pattern(self) -> re.Pattern[str]:
        """A regex that matches this template's prompts and captures the placeholders."""
        out, last = [], 0
        for match in _PLACEHOLDER.finditer(self.prompt):
            out.append(re.escape(self.prompt[last : match.start()]))
            name = match.group(1)
            kind = _PARAM_PATTERNS.get(name, r"\d+")
            out.append(f"(?P<{name}>{kind})")
            last = match.end()
        out.append(re.escape(self.prompt[last:]))
        return re.compile("^" + "".join(out) + "$")

    def parse(self, prompt: str) -> Params | None:
        """The parameters of ``prompt`` if it is one of this template's, else ``None``."""
        match = self.pattern().match(prompt)
        if match is None:
            return None
        params: Params = {
            k: (v if k in _TEXT_PARAMS else int(v)) for k, v in match.groupdict().items()
        }
        # Only the canonical spelling (no leading zeros) is a prompt of this template.
        if fill(self.prompt, params) != prompt:
            return None
        if self.derive is None:
            return params
        try:
            return self.derive(params)
        except KeyError:
            return None


def fill(text: str, params: Params) -> str:
    """Replace ``{name}`` placeholders; other braces (dict displays) stay as they are."""
    return _PLACEHOLDER.sub(
        lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text
    )


#: Placeholders that hold text rather than integers, and what each may look like.
_PARAM_PATTERNS = {"c": r"[a-z]+", "d": r"[a-z]+", "w": r"[a-z]+", "words": N.WORDS_PATTERN}
_TEXT_PARAMS = set(_PARAM_PATTERNS)


Derive = Callable[[Params], Params]


def _keep(
    value: str, key: str, params: Callable[[random.Random], Params], derive: Derive
) -> list[Template]:
    """``keep items above/below <value>``, the threshold being ``p[key]`` once derived."""
    return [
        Template(
            f"keep items above {value}",
            f"[x for x in a if x>{{{key}}}]",
            "a",
            params,
            lambda p: lambda a: [x for x in a if x > p[key]],
            E.threshold_lists(key),
            derive,
        ),
        Template(
            f"keep items below {value}",
            f"[x for x in a if x<{{{key}}}]",
            "a",
            params,
            lambda p: lambda a: [x for x in a if x < p[key]],
            E.threshold_lists(key),
            derive,
        ),
    ]


def _add_to_each(
    value: str, key: str, params: Callable[[random.Random], Params], derive: Derive
) -> Template:
    """``add <value> to each``, the constant being ``p[key]`` once derived."""
    return Template(
        f"add {value} to each",
        f"[x+{{{key}}} for x in a]",
        "a",
        params,
        lambda p: lambda a: [x + p[key] for x in a],
        E.map_lists(0, 99),
        derive,
    )


#: skill -> subskill -> (description, templates). Descriptions are what engines and teachers
#: read; the templates are what the generators draw.
CATALOGUE: dict[str, dict[str, tuple[str, list[Template]]]] = {
    "filtering": {
        "threshold": (
            "keep the items above or below a number",
            [
                Template(
                    "keep items above {n}",
                    "[x for x in a if x>{n}]",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: [x for x in a if x > p["n"]],
                    E.threshold_lists("n"),
                ),
                Template(
                    "keep items below {n}",
                    "[x for x in a if x<{n}]",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: [x for x in a if x < p["n"]],
                    E.threshold_lists("n"),
                ),
            ],
        ),
        "remainder": (
            "keep the items with a given remainder",
            [
                Template(
                    "keep items equal to {r} mod {k}",
                    "[x for x in a if x%{k}=={r}]",
                    "a",
                    D.remainder_params,
                    lambda p: lambda a: [x for x in a if x % p["k"] == p["r"]],
                    E.remainder_lists,
                ),
            ],
        ),
    },
    "mapping": {
        "scale": (
            "multiply or shift every item by a constant",
            [
                Template(
                    "multiply each by {k}",
                    "[x*{k} for x in a]",
                    "a",
                    D.ranged(k=(2, D.NUMBER_MAX)),
                    lambda p: lambda a: [x * p["k"] for x in a],
                    E.map_lists(0, 99),
                ),
                Template(
                    "add {k} to each",
                    "[x+{k} for x in a]",
                    "a",
                    D.ranged(k=(2, D.NUMBER_MAX)),
                    lambda p: lambda a: [x + p["k"] for x in a],
                    E.map_lists(0, 99),
                ),
            ],
        ),
        "affine": (
            "multiply every item, then add a constant",
            [
                Template(
                    "each times {k} plus {m}",
                    "[x*{k}+{m} for x in a]",
                    "a",
                    D.ranged(k=(2, 60), m=(1, 199)),
                    lambda p: lambda a: [x * p["k"] + p["m"] for x in a],
                    E.map_lists(0, 99),
                ),
            ],
        ),
    },
    "aggregation": {
        "extreme": (
            "the largest or smallest item, shifted",
            [
                Template(
                    "largest item plus {m}",
                    "max(a)+{m}",
                    "a",
                    D.ranged(m=(1, D.NUMBER_MAX)),
                    lambda p: lambda a: max(a) + p["m"],
                    E.number_lists(0, 999),
                ),
                Template(
                    "smallest item minus {m}",
                    "min(a)-{m}",
                    "a",
                    D.ranged(m=(1, D.NUMBER_MAX)),
                    lambda p: lambda a: min(a) - p["m"],
                    E.number_lists(0, 999),
                ),
            ],
        ),
        "conditional_sum": (
            "sum or count the items above a number",
            [
                Template(
                    "sum of items above {n}",
                    "sum(x for x in a if x>{n})",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: sum(x for x in a if x > p["n"]),
                    E.threshold_lists("n"),
                ),
                Template(
                    "count items above {n}",
                    "len([x for x in a if x>{n}])",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: sum(1 for x in a if x > p["n"]),
                    E.threshold_lists("n"),
                ),
            ],
        ),
    },
    "strings": {
        "slice": (
            "a slice of the string",
            [
                Template(
                    "chars {i} to {j} of s",
                    "s[{i}:{j}]",
                    "s",
                    D.slice_params,
                    lambda p: lambda s: s[p["i"] : p["j"]],
                    E.slice_strings,
                ),
            ],
        ),
        "replace": (
            "replace a letter, or remove a run of letters",
            [
                Template(
                    "replace {c} with {d} in s",
                    "s.replace('{c}','{d}')",
                    "s",
                    D.replacement,
                    lambda p: lambda s: D.replace_all(s, p["c"], p["d"]),
                    E.letter_strings,
                ),
                Template(
                    "remove every {c} from s",
                    "s.replace('{c}','')",
                    "s",
                    D.removal,
                    lambda p: lambda s: D.replace_all(s, p["c"], ""),
                    E.letter_strings,
                ),
            ],
        ),
    },
    "conditionals": {
        "pick": (
            "one of two values, depending on a threshold",
            [
                Template(
                    "{p} when x exceeds {n}, else {q}",
                    "{p} if x>{n} else {q}",
                    "x",
                    D.ranged(p=(0, 99), n=(0, 99), q=(0, 99)),
                    lambda p: lambda x: p["p"] if x > p["n"] else p["q"],
                    E.pick_numbers,
                ),
            ],
        ),
        "parity": (
            "a different formula for even and odd numbers",
            [
                Template(
                    "half x if even, else {k}x+{m}",
                    "x//2 if x%2==0 else {k}*x+{m}",
                    "x",
                    D.ranged(k=(2, 9), m=(1, 999)),
                    lambda p: lambda x: x // 2 if x % 2 == 0 else p["k"] * x + p["m"],
                    E.parity_numbers,
                ),
            ],
        ),
    },
    "index_loops": {
        "indices": (
            "the positions of the items above a number",
            [
                Template(
                    "indices of items above {n}",
                    "[i for i in range(len(a)) if a[i]>{n}]",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: [i for i, x in enumerate(a) if x > p["n"]],
                    E.threshold_lists("n"),
                ),
            ],
        ),
        "weighted": (
            "every item plus a multiple of its index",
            [
                Template(
                    "each plus {k} times its index",
                    "[a[i]+{k}*i for i in range(len(a))]",
                    "a",
                    D.ranged(k=(2, D.NUMBER_MAX)),
                    lambda p: lambda a: [x + p["k"] * i for i, x in enumerate(a)],
                    E.map_lists(0, 99),
                ),
            ],
        ),
    },
    "counting": {
        "item_counts": (
            "a dict counting each item above a number",
            [
                Template(
                    "count each item above {n}",
                    "{x:a.count(x) for x in a if x>{n}}",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: {x: a.count(x) for x in a if x > p["n"]},
                    E.counted_lists,
                ),
            ],
        ),
        "remainder_counts": (
            "a dict counting the items per remainder",
            [
                Template(
                    "count items mod {k} above {n}",
                    "{r:sum(x%{k}==r for x in a if x>{n}) for r in range({k})}",
                    "a",
                    D.ranged(k=(2, 9), n=(0, 999)),
                    lambda p: (
                        lambda a: {
                            r: len([x for x in a if x > p["n"] and x % p["k"] == r])
                            for r in range(p["k"])
                        }
                    ),
                    E.remainder_counts_lists,
                ),
            ],
        ),
    },
    "sorting": {
        "by_remainder": (
            "sort by the remainder modulo a number",
            [
                Template(
                    "sort by remainder mod {k}",
                    "sorted(a,key=lambda x:x%{k})",
                    "a",
                    D.ranged(k=(2, D.NUMBER_MAX)),
                    lambda p: lambda a: sorted(a, key=lambda x: x % p["k"]),
                    E.remainder_sort_lists,
                ),
            ],
        ),
        "by_distance": (
            "sort by the distance to a number",
            [
                Template(
                    "sort by distance to {n}",
                    "sorted(a,key=lambda x:abs(x-{n}))",
                    "a",
                    D.ranged(n=(0, D.NUMBER_MAX)),
                    lambda p: lambda a: sorted(a, key=lambda x: abs(x - p["n"])),
                    E.distance_sort_lists,
                ),
            ],
        ),
    },
    "number_words": {
        "threshold": (
            "keep the items above or below a number written in words",
            _keep("{words}", "n", N.spelled("n", D.ranged(n=(0, D.WORDS_MAX))), D.from_words("n")),
        ),
        "scale": (
            "multiply or shift every item by a number written in words",
            [
                Template(
                    "multiply each by {words}",
                    "[x*{k} for x in a]",
                    "a",
                    N.spelled("k", D.ranged(k=(2, D.WORDS_MAX))),
                    lambda p: lambda a: [x * p["k"] for x in a],
                    E.map_lists(0, 99),
                    D.from_words("k"),
                ),
                _add_to_each(
                    "{words}", "k", N.spelled("k", D.ranged(k=(2, D.WORDS_MAX))), D.from_words("k")
                ),
            ],
        ),
    },
    "number_facts": {
        "prime_threshold": (
            "keep the items above or below the i-th prime",
            _keep("prime #{i}", "p", D.with_prime(D.ranged()), D.prime_of),
        ),
        "prime_shift": (
            "add the i-th prime to every item",
            [_add_to_each("prime #{i}", "p", D.with_prime(D.ranged()), D.prime_of)],
        ),
    },
}

SKILL_DESCRIPTIONS = {
    "filtering": "list filtering with a condition",
    "mapping": "transforming every item of a list",
    "aggregation": "reducing a list to one number",
    "strings": "string manipulation",
    "conditionals": "choosing a value with a condition",
    "index_loops": "loops over the indices of a list",
    "counting": "counting with dicts",
    "sorting": "sorting with a key",
    "number_words": "reading numbers written out in words",
    "number_facts": "numbers known by name, not by a rule",
}
