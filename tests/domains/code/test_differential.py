"""Differential testing: wrong variants of every template are rejected, rewrites accepted.

A small mutation test of the scorer. For each template, a few prompts; for each prompt the
known wrong variants (off-by-one bounds, wrong constants, wrong tie-breaks, wrong types)
that really differ from the reference on a broad random sample, which must all score wrong
and fail verification, and equivalent rewrites, which must all score right.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

from dataenvgym.domains.code.domain import CodeDomain, hidden_checks, parse_prompt, solution_source
from dataenvgym.domains.code.templates import CATALOGUE
from dataenvgym.types import TaskInstance, TrainingDatum

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

_C = "__import__('collections').Counter"
# template prompt -> (wrong variants, equivalent rewrites); ``{n1}`` is n + 1, ``{nm1}`` n - 1.
VARIANTS: dict[str, tuple[list[str], list[str]]] = {
    "keep items above {n}": (
        [
            "[x for x in a if x>={n}]",
            "[x for x in a if x>{n1}]",
            "[x for x in a if x>{nm1}]",
            "[x for x in a if x<{n}]",
            "sorted(x for x in a if x>{n})",
            "[x for x in a if abs(x)>{n}]",
            "[x for x in a if x>{n}][:3]",
            "a",
        ],
        ["[y for y in a if {n}<y]", "list(filter(lambda v: v>{n}, a))"],
    ),
    "keep items below {n}": (
        ["[x for x in a if x<={n}]", "[x for x in a if x<{n1}]", "[x for x in a if x>{n}]"],
        ["[x for x in a if {n}>x]", "[x for x in a if not x>={n}]"],
    ),
    "keep items equal to {r} mod {k}": (
        [
            "[x for x in a if x%{k}>={r}]",
            "[x for x in a if x%{k}<={r}]",
            "[x for x in a if x%{k}!={r}]",
            "[x for x in a if x%{k1}=={r}]",
            "[x for x in a if x%{k}=={r1}]",
            "[x for x in a if x%{k}=={r}][1:]",
        ],
        ["[x for x in a if (x-{r})%{k}==0]", "list(filter(lambda x: x%{k}=={r}, a))"],
    ),
    "multiply each by {k}": (
        ["[x*{k1} for x in a]", "[x+{k} for x in a]", "[x*{k} for x in sorted(a)]"],
        ["[{k}*x for x in a]", "list(map(lambda x: x*{k}, a))"],
    ),
    "add {k} to each": (
        ["[x+{k1} for x in a]", "[x*{k} for x in a]", "[x+{k} for x in a[1:]]"],
        ["[{k}+x for x in a]"],
    ),
    "each times {k} plus {m}": (
        ["[x*{k}+{m1} for x in a]", "[(x+{m})*{k} for x in a]", "[x*{k} for x in a]"],
        ["[{m}+{k}*x for x in a]"],
    ),
    "largest item plus {m}": (
        ["max(a)+{m1}", "a[-1]+{m}", "a[0]+{m}", "min(a)+{m}", "max(a)", "max(a[1:]+[0])+{m}"],
        ["sorted(a)[-1]+{m}", "{m}+max(a)"],
    ),
    "smallest item minus {m}": (
        ["min(a)-{m1}", "max(a)-{m}", "a[0]-{m}", "min(a)+{m}", "sorted(a)[1]-{m}"],
        ["sorted(a)[0]-{m}", "-{m}+min(a)"],
    ),
    "sum of items above {n}": (
        [
            "sum(x for x in a if x>={n})",
            "sum(x for x in a if x>{n1})",
            "sum(a)",
            "sum(1 for x in a if x>{n})",
        ],
        ["sum([x for x in a if x>{n}])", "sum(filter(lambda x: x>{n}, a))"],
    ),
    "count items above {n}": (
        ["len([x for x in a if x>={n}])", "sum(x for x in a if x>{n})", "len(a)"],
        ["sum(1 for x in a if x>{n})", "sum(x>{n} for x in a)"],
    ),
    "chars {i} to {j} of s": (
        ["s[{i}:{j1}]", "s[{i1}:{j}]", "s[{i}:]", "s[:{j}]", "s[{im1}:{j}]", "s[{i}:{jm1}]", "''"],
        ["s[{i}:{j}][:]", "''.join(s[{i}:{j}])", "s[{i}:min(len(s),{j})]"],
    ),
    "replace {c} with {d} in s": (
        ["s.replace('{c}','{d}',1)", "s.replace('{d}','{c}')", "s.replace('{c}','')"],
        ["''.join('{d}' if ch=='{c}' else ch for ch in s)", "s.translate({{ord('{c}'):'{d}'}})"],
    ),
    "remove every {c} from s": (
        [
            "s.replace('{c}','',1)",
            "s.strip('{c}')",
            "s.replace('{c}',' ')",
            # The run's letters one by one, and a second pass that removes runs the first
            # one joined (``aab`` from ``aabb`` for ``ab``): both wrong.
            "''.join(ch for ch in s if ch not in '{c}')",
            "s.replace('{c}','').replace('{c}','')",
        ],
        ["''.join(s.split('{c}'))", "s.replace('{c}','',-1)"],
    ),
    "{p} when x exceeds {n}, else {q}": (
        [
            "{p} if x>={n} else {q}",
            "{p} if x>{n1} else {q}",
            "{q}",
            "{p}",
            "{q} if x>{n} else {p}",
            "{p} if x>{nm1} else {q}",
        ],
        ["{q} if x<={n} else {p}", "[{q},{p}][x>{n}]"],
    ),
    "half x if even, else {k}x+{m}": (
        [
            "x/2 if x%2==0 else {k}*x+{m}",
            "x//2 if x%2==0 else {k1}*x+{m}",
            "x//2 if x%2 else {k}*x+{m}",
            "x//2 if x%2==0 else {k}*x+{m1}",
            "x//2 if x%2==0 else {k}*(x+{m})",
        ],
        ["x>>1 if x%2==0 else x*{k}+{m}", "{k}*x+{m} if x%2 else x//2"],
    ),
    "indices of items above {n}": (
        [
            "[i for i in range(len(a)) if a[i]>={n}]",
            "[i+1 for i in range(len(a)) if a[i]>{n}]",
            "[a[i] for i in range(len(a)) if a[i]>{n}]",
            "[i for i in range(len(a)-1) if a[i]>{n}]",
        ],
        ["[i for i, x in enumerate(a) if x>{n}]"],
    ),
    "each plus {k} times its index": (
        [
            "[a[i]+{k}*(i+1) for i in range(len(a))]",
            "[a[i]*{k}+i for i in range(len(a))]",
            "[a[i]+{k1}*i for i in range(len(a))]",
            "[x+{k} for x in a]",
        ],
        ["[x+{k}*i for i, x in enumerate(a)]"],
    ),
    "count each item above {n}": (
        [
            "{{x:a.count(x) for x in a if x>={n}}}",
            "{{x:1 for x in a if x>{n}}}",
            "{{x:a.count(x) for x in a}}",
        ],
        [f"dict({_C}(x for x in a if x>{{n}}))", f"{_C}(x for x in a if x>{{n}})"],
    ),
    "count items mod {k} above {n}": (
        [
            "{{r:sum(x%{k}==r for x in a if x>={n}) for r in range({k})}}",
            "{{r:sum(x%{k}==r for x in a) for r in range({k})}}",
            "{{r:sum(x%{k}==r for x in a if x>{n}) for r in range({km1})}}",
        ],
        ["{{r:len([x for x in a if x>{n} and x%{k}==r]) for r in range({k})}}"],
    ),
    "sort by remainder mod {k}": (
        [
            "sorted(a,key=lambda x:(x%{k},x))",
            "sorted(a)",
            "sorted(a,key=lambda x:x%{k},reverse=True)",
            "sorted(a,key=lambda x:x%{k1})",
            "sorted(a,key=lambda x:-(x%{k}))[::-1]",
        ],
        ["sorted(a,key=lambda v:v%{k})", "sorted(a, key=lambda x: (x%{k},))"],
    ),
    "sort by distance to {n}": (
        [
            "sorted(a,key=lambda x:(abs(x-{n}),x))",
            "sorted(a,key=lambda x:x-{n})",
            "sorted(a,key=lambda x:abs(x-{n1}))",
            "sorted(a,key=lambda x:abs(x-{n}),reverse=True)",
        ],
        ["sorted(a,key=lambda x:abs({n}-x))", "sorted(a,key=lambda x:(x-{n})**2)"],
    ),
    "keep items above {words}": (
        ["[x for x in a if x>={n}]", "[x for x in a if x>{n1}]", "[x for x in a if x>{nm1}]"],
        ["[y for y in a if {n}<y]"],
    ),
    "keep items below {words}": (
        ["[x for x in a if x<={n}]", "[x for x in a if x<{n1}]", "[x for x in a if x>{n}]"],
        ["[x for x in a if not x>={n}]"],
    ),
    "multiply each by {words}": (
        ["[x*{k1} for x in a]", "[x+{k} for x in a]"],
        ["[{k}*x for x in a]"],
    ),
    "add {words} to each": (
        ["[x+{k1} for x in a]", "[x*{k} for x in a]"],
        ["[{k}+x for x in a]"],
    ),
    # The index is not the prime: prime #i named by i is the commonest wrong answer.
    "keep items above prime #{i}": (
        ["[x for x in a if x>{i}]", "[x for x in a if x>={p}]", "[x for x in a if x>{p1}]"],
        ["[x for x in a if {p}<x]"],
    ),
    "keep items below prime #{i}": (
        ["[x for x in a if x<{i}]", "[x for x in a if x<={p}]", "[x for x in a if x<{pm1}]"],
        ["[x for x in a if not x>={p}]"],
    ),
    "add prime #{i} to each": (
        ["[x+{i} for x in a]", "[x+{p1} for x in a]", "[x+{pm1} for x in a]"],
        ["[{p}+x for x in a]", "[x+{p} for x in a[:]]"],
    ),
}


def _broad(arg: str, rng: random.Random) -> Any:
    """An input from a broad distribution of our own, independent of the checks' generators."""
    if arg == "s":
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(0, 60)))
    if arg == "x":
        return rng.randint(-50, 1100)
    centre = rng.randint(0, 8100)
    return [rng.randint(centre - 40, centre + 40) for _ in range(rng.randint(1, 15))]


def _differs(arg: str, source: str, reference: Any, rng: random.Random) -> bool:
    namespace: dict[str, Any] = {}
    exec(solution_source(arg, source), namespace)
    for _ in range(800):
        value = _broad(arg, rng)
        try:
            got = namespace["f"](list(value) if isinstance(value, list) else value)
        except Exception:
            return True
        want = reference(value)
        if type(got) is not type(want) or got != want:
            return True
    return False


def _cases() -> list[tuple[str, str, bool]]:
    """(prompt, answer, is it right) for 3 prompts of every template."""
    cases: list[tuple[str, str, bool]] = []
    rng = random.Random(7)
    for subs in CATALOGUE.values():
        for _, templates in subs.values():
            for template in templates:
                wrong, right = VARIANTS[template.prompt]
                for _ in range(3):
                    params = template.params(rng)
                    extra = {f"{k}1": v + 1 for k, v in params.items() if isinstance(v, int)}
                    extra |= {f"{k}m1": v - 1 for k, v in params.items() if isinstance(v, int)}
                    values = {**params, **extra}
                    prompt = template.render(params)[0]
                    reference = template.reference(params)
                    for source in wrong:
                        answer = source.format(**values)
                        if _differs(template.arg, answer, reference, random.Random(answer)):
                            cases.append((prompt, answer, False))
                    cases += [(prompt, source.format(**values), True) for source in right]
    return cases


def test_every_template_has_variants() -> None:
    prompts = {t.prompt for subs in CATALOGUE.values() for _, ts in subs.values() for t in ts}
    assert prompts == set(VARIANTS)


def test_wrong_variants_are_rejected_and_rewrites_accepted() -> None:
    cases = _cases()
    assert sum(not right for _, _, right in cases) > 150
    domain = CodeDomain()
    items = [TaskInstance(id=p, domain="code", prompt=p, answer="") for p, _, _ in cases]
    scores = domain.score_many(items, [answer for _, answer, _ in cases])
    accepted_wrong = [
        (p, a) for (p, a, right), s in zip(cases, scores, strict=True) if s.correct and not right
    ]
    rejected_right = [
        (p, a) for (p, a, right), s in zip(cases, scores, strict=True) if not s.correct and right
    ]
    assert accepted_wrong == [] and rejected_right == []
    data = [TrainingDatum(id=a, domain="code", prompt=p, response=a) for p, a, _ in cases]
    reasons = domain.verify_many(data)
    assert [reason is None for reason in reasons] == [right for _, _, right in cases]


def test_a_float_for_an_int_is_wrong() -> None:
    """``x/2`` for ``x//2`` gives equal numbers of the wrong type: rejected."""
    task = parse_prompt("half x if even, else 3x+5")
    assert task is not None
    assert all(type(expected) is int for _, expected in hidden_checks(task, 48))
    item = TaskInstance(id="p", domain="code", prompt="half x if even, else 3x+5", answer="")
    scores = CodeDomain().score_many(
        [item] * 2, ["x/2 if x%2==0 else 3*x+5", "x//2 if x%2==0 else 3*x+5"]
    )
    assert [s.correct for s in scores] == [False, True]
