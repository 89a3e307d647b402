"""Mutants and equivalent rewrites of a tool-use plan (``look(p1,price)|mul($1,3)``).

Used by ``bench/scoring_mutation.py``. Mutants change what the plan computes from the query:
an argument that is not the query's value (off by one, another item, unit, word or date), a
wrong tool, a missing, extra or reordered call, swapped arguments of a tool that is not
commutative, a literal in place of a ``$k`` result, or the final answer as text. Many of them
are built to reach the gold answer anyway (``mul(422552,1)`` for ``mul(478,884)``,
``dadd(2026-07-04,0)`` for ``dadd(2025-07-30,339)``, ``len(soti)`` for ``len(roti)``); those are
labelled "hard-coded (same answer)" once running them confirms the answer is the gold's.
Rewrites keep the calls: commuted ``add``/``mul`` arguments, whitespace, ``478.0``/``+478``
for ``478``, ``20250730`` for ``2025-07-30``, ``$01`` for ``$1``, independent calls reordered.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from dataenvgym.domains.tooluse.tools import Call, parse_plan, run_plan, table

Variant = tuple[str, str, bool]  # (operator, text, wrong)

HARD_CODED = "hard-coded (same answer)"
_ARITH = ("add", "sub", "mul", "div")
_TEXT = ("rev", "up", "len")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(calls: list[Call]) -> str:
    return "|".join(f"{c.tool}({','.join(c.args)})" for c in calls)


def _with(calls: list[Call], index: int, tool: str | None = None, *args: str) -> list[Call]:
    out = list(calls)
    out[index] = Call(tool or calls[index].tool, tuple(args) if args else calls[index].args)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shift(date: str, days: int) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def _results(calls: list[Call]) -> list[str]:
    """Each call's canonical result (the plans here all run)."""
    return [run_plan(_text(calls[: k + 1]))[1] or "" for k in range(len(calls))]


def _same_answer_rewrites(call: Call, rng: random.Random) -> list[tuple[str, ...]]:
    """Other arguments for ``call`` that give the same result (when they are literals)."""
    a = call.args
    k = rng.randint(1, 50)
    out: list[tuple[str, ...]] = []
    if call.tool in _ARITH and all(_is_number(x) for x in a):
        x, y = float(a[0]), float(a[1])
        if call.tool == "add":
            out.append((_num(x + k), _num(y - k)))
        if call.tool == "sub":
            out.append((_num(x + k), _num(y + k)))
        if call.tool == "mul":
            out.append((_num(x * y), "1"))
        if call.tool == "div":
            out.append((_num(x * 2), _num(y * 2)))
    if call.tool == "dadd" and _DATE.match(a[0]) and _is_number(a[1]):
        out.append((_shift(a[0], int(float(a[1]))), "0"))
        out.append((_shift(a[0], -k), str(int(float(a[1])) + k)))
    if call.tool == "ddiff" and _DATE.match(a[0]) and _DATE.match(a[1]):
        out.append((_shift(a[0], k), _shift(a[1], k)))
    if call.tool == "up" and not a[0].startswith("$"):
        out.append((a[0].upper(),))
    if call.tool == "len" and not a[0].startswith("$"):
        word = "".join(rng.choice("bcdfgklm") if ch != "a" else "a" for ch in a[0])
        out.append((word if word != a[0] else a[0][::-1] + "x"[: len(a[0]) == 1],))
    if call.tool == "look" and not a[0].startswith("$"):
        value = table()[a[0]][a[1]]
        same = sorted(i for i, row in table().items() if row[a[1]] == value and i != a[0])
        if same:
            out.append((same[0], a[1]))
    if call.tool == "conv" and _is_number(a[0]):
        out.append((_num(float(a[0]) + 0.001), a[1], a[2]))
    return out


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6g}"


def _nudged(arg: str, rng: random.Random) -> str | None:
    """The argument off by a little: a number by one, a date by a day, another item or word."""
    if arg.startswith("$"):
        return None
    if _is_number(arg):
        return _num(float(arg) + rng.choice([-1, 1]))
    if _DATE.match(arg):
        return _shift(arg, rng.choice([-1, 1]))
    if arg in table():
        return rng.choice(sorted(set(table()) - {arg}))
    if arg in ("price", "weight", "stock", "length"):
        return rng.choice(sorted({"price", "weight", "stock", "length"} - {arg}))
    if arg in ("km", "mi", "m", "ft", "cm", "in", "kg", "lb", "c", "f"):
        return None  # another unit rarely runs; swapped units are their own operator
    return arg[1:] + arg[0] if len(set(arg)) > 1 else arg + "a"


def mutants(gold: str, rng: random.Random) -> list[Variant]:
    """Wrong plans for the query whose gold plan is ``gold``."""
    calls = parse_plan(gold)
    results = _results(calls)
    answer = results[-1]
    out: list[Variant] = []
    for index, call in enumerate(calls):
        for rewrite in _same_answer_rewrites(call, rng):
            out.append((HARD_CODED, _text(_with(calls, index, None, *rewrite)), True))
        for position, arg in enumerate(call.args):
            nudged = _nudged(arg, rng)
            if nudged is not None:
                args = list(call.args)
                args[position] = nudged
                out.append(("wrong argument", _text(_with(calls, index, None, *args)), True))
            if arg.startswith("$"):  # the earlier call's result written in by hand
                args = list(call.args)
                args[position] = results[int(arg[1:]) - 1]
                out.append((HARD_CODED, _text(_with(calls, index, None, *args)), True))
        family = _ARITH if call.tool in _ARITH else _TEXT if call.tool in _TEXT else ()
        for other in family:
            if other != call.tool:
                out.append(("wrong tool", _text(_with(calls, index, other)), True))
        if call.tool in ("sub", "div", "ddiff") and call.args[0] != call.args[1]:
            out.append(
                ("swapped arguments", _text(_with(calls, index, None, *call.args[::-1])), True)
            )
        if call.tool == "conv":
            v, u1, u2 = call.args
            out.append(("swapped arguments", _text(_with(calls, index, None, v, u2, u1)), True))
    last = calls[-1]
    if last.tool in _ARITH and _is_number(answer):
        neutral = {"add": "0", "sub": "0", "mul": "1", "div": "1"}[last.tool]
        out.append((HARD_CODED, f"{last.tool}({answer},{neutral})", True))  # the form
        out.append((HARD_CODED, _text([*calls[:-1], Call(last.tool, (answer, neutral))]), True))
    if last.tool == "dadd":
        out.append((HARD_CODED, f"dadd({answer},0)", True))
    if len(calls) > 1:
        out.append(("missing call", _text(calls[:1]), True))
        out.append(("missing call", _text(calls[1:]).replace("$1", results[0]), True))
        if all(len(c.args) == len(calls[0].args) for c in calls) and calls[0].tool != calls[1].tool:
            swapped = [Call(calls[1].tool, calls[0].args), Call(calls[0].tool, calls[1].args)]
            out.append(("swapped order", _text(swapped + calls[2:]), True))
    n = len(calls)
    extra = "add" if _is_number(answer) else "up" if answer.isalpha() else None
    if extra is not None:
        tail = f"add(${n},0)" if extra == "add" else f"up(${n})"
        out.append(("extra call", f"{gold}|{tail}", True))
    out.append(("final answer as text", answer, True))
    return _distinct(out, gold)


def equivalents(gold: str) -> list[Variant]:
    """Rewrites of ``gold`` that make the same calls."""
    calls = parse_plan(gold)
    out: list[Variant] = [("reference", gold, False)]
    for index, call in enumerate(calls):
        if call.tool in ("add", "mul"):
            out.append(
                ("commuted arguments", _text(_with(calls, index, None, *call.args[::-1])), False)
            )
    out.append(("whitespace", " " + gold.replace(",", ", ").replace("|", " | ") + " ", False))
    out.append(("whitespace", gold.replace("(", "( ").replace(")", " )"), False))
    numbers = [
        Call(c.tool, tuple(a + ".0" if a.lstrip("-").isdigit() else a for a in c.args))
        for c in calls
    ]
    out.append(("number format", _text(numbers), False))
    signed = [Call(c.tool, tuple("+" + a if a.isdigit() else a for a in c.args)) for c in calls]
    out.append(("number format", _text(signed), False))
    out.append(("date format", re.sub(r"(\d{4})-(\d{2})-(\d{2})", r"\1\2\3", gold), False))
    out.append(("reference format", re.sub(r"\$(\d)", r"$0\1", gold), False))
    if len(calls) > 2 and calls[0].tool == calls[1].tool == "look":
        first, second, *rest = calls
        renumbered = [
            Call(c.tool, tuple({"$1": "$2", "$2": "$1"}.get(a, a) for a in c.args)) for c in rest
        ]
        out.append(("independent calls reordered", _text([second, first, *renumbered]), False))
    return _distinct(out, None)


def _distinct(variants: list[Variant], gold: str | None) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for variant in variants:
        if variant[1] != gold:
            seen.setdefault(variant[1], variant)
    return list(seen.values())


def variants(gold: str, rng: random.Random) -> list[Variant]:
    """Mutants and rewrites. An argument mutant is labelled by what running it gives: the gold
    answer (hard-coded) or another one (wrong argument)."""
    answer = run_plan(gold)[1]
    out: list[Variant] = []
    for op, text, wrong in mutants(gold, rng):
        if op in (HARD_CODED, "wrong argument"):
            op = HARD_CODED if run_plan(text)[1] == answer else "wrong argument"
        out.append((op, text, wrong))
    return out + equivalents(gold)
