"""Mutants and equivalent rewrites of a code answer (one Python expression), checked by running.

Used by ``bench/scoring_mutation.py``. Every variant is executed in this process next to the
reference on a few hundred inputs drawn for the expression's constants (lists, strings or
integers around them, with repeats so that ties occur, and lengths on both sides of every
constant): a mutant is kept only when some input tells it apart from the reference (output
and type, or raising where the other does not), an equivalent rewrite only when none does.
The expressions are our own references and small edits of them, so running them here is
safe; each variant still runs under a time limit.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import random
import signal
from collections.abc import Callable, Iterator
from typing import Any

Variant = tuple[str, str, bool]  # (operator, text, wrong)

_COMPARE_SWAPS: dict[type, list[type]] = {
    ast.Gt: [ast.GtE, ast.Lt],
    ast.Lt: [ast.LtE, ast.Gt],
    ast.GtE: [ast.Gt],
    ast.LtE: [ast.Lt],
    ast.Eq: [ast.NotEq, ast.GtE],
    ast.NotEq: [ast.Eq],
}
_BINOP_SWAPS: dict[type, list[type]] = {
    ast.Add: [ast.Sub, ast.Mult],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Add, ast.Pow],
    ast.FloorDiv: [ast.Div, ast.Mod],
    ast.Mod: [ast.FloorDiv],
}
_FLIPPED = {ast.Gt: ast.Lt, ast.Lt: ast.Gt, ast.GtE: ast.LtE, ast.LtE: ast.GtE, ast.Eq: ast.Eq}
_CALL_SWAPS = {"max": "min", "min": "max", "len": "sum", "sum": "len"}


def _edits(tree: ast.Expression) -> Iterator[tuple[str, ast.Expression]]:
    """Each single-point mutation of ``tree``: (operator name, mutated copy)."""
    nodes = list(ast.walk(tree))
    for index, node in enumerate(nodes):
        # ``change`` edits one node in place; Any because each operator knows its node type.
        def mutated(change: Any, i: int = index) -> ast.Expression:
            clone = copy.deepcopy(tree)
            change(list(ast.walk(clone))[i])
            return ast.fix_missing_locations(clone)

        if isinstance(node, ast.Constant) and type(node.value) is int:
            for name, delta in (("constant+1", 1), ("constant-1", -1)):
                yield name, mutated(lambda n, d=delta: setattr(n, "value", n.value + d))
            if node.value not in (0, 1):
                yield "constant->0", mutated(lambda n: setattr(n, "value", 0))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield "string->other", mutated(lambda n: setattr(n, "value", n.value + "z"))
        if isinstance(node, ast.Compare):
            for new in _COMPARE_SWAPS.get(type(node.ops[0]), []):
                yield "comparison", mutated(lambda n, o=new: setattr(n, "ops", [o()]))
        if isinstance(node, ast.BinOp):
            for new in _BINOP_SWAPS.get(type(node.op), []):
                name = "/ for //" if new is ast.Div else "operator"
                yield name, mutated(lambda n, o=new: setattr(n, "op", o()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in _CALL_SWAPS:
                swap = _CALL_SWAPS[node.func.id]
                yield "wrong function", mutated(lambda n, s=swap: setattr(n.func, "id", s))
            if node.func.id == "sorted":
                yield (
                    "reverse sort",
                    mutated(
                        lambda n: n.keywords.append(ast.keyword("reverse", ast.Constant(True)))
                    ),
                )
                for tie in ("x", "-x"):
                    yield "wrong tie-break", mutated(lambda n, t=tie: _tie_break(n, t))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and len(node.args) == 2
        ):
            yield "swapped arguments", mutated(lambda n: n.args.reverse())
        if isinstance(node, ast.comprehension) and node.ifs:
            yield "dropped condition", mutated(lambda n: setattr(n, "ifs", []))
        if isinstance(node, ast.IfExp):
            yield "swapped branches", mutated(_swap_branches)
        if isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                if getattr(node, bound) is not None:
                    yield "dropped slice bound", mutated(lambda n, b=bound: setattr(n, b, None))


def _tie_break(call: ast.Call, tie: str) -> None:
    """``key=lambda x: K`` -> ``key=lambda x: (K, x)``: ties no longer keep the input order."""
    for keyword in call.keywords:
        if keyword.arg == "key" and isinstance(keyword.value, ast.Lambda):
            arg = keyword.value.args.args[0].arg
            extra = ast.parse(tie.replace("x", arg), mode="eval").body
            keyword.value.body = ast.Tuple([keyword.value.body, extra], ast.Load())


def _swap_branches(node: ast.AST) -> None:
    assert isinstance(node, ast.IfExp)
    node.body, node.orelse = node.orelse, node.body


def _constants(tree: ast.AST) -> tuple[list[int], list[str]]:
    ints = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is int]
    strs = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is str]
    return ints, strs


def inputs(arg: str, reference: str, count: int, rng: random.Random) -> list[Any]:
    """Inputs that tell wrong variants of ``reference`` apart, for the argument ``arg``."""
    ints, strs = _constants(ast.parse(reference, mode="eval"))
    ints = ints or [10]
    near = sorted({max(0, c + d) for c in ints for d in range(-3, 4)})
    top = max(ints) * 3 + 10

    def number() -> int:
        roll = rng.random()
        if roll < 0.4:
            return rng.choice(near)
        if roll < 0.6:  # shares a remainder or a distance with others: ties for sorting
            c = rng.choice(ints) or 1
            return max(0, c * rng.randint(0, 4) + rng.randint(-2, 2))
        return rng.randint(0, top if roll < 0.85 else 999)

    out: list[Any] = []
    for index in range(count):
        if arg == "s":
            letters = "".join(strs) + "abcdefgh"
            size = rng.choice([*range(0, 8), *[max(0, c + d) for c in ints for d in (-1, 0, 1)]])
            size = size if rng.random() < 0.7 else rng.randint(0, 70)
            out.append("".join(rng.choice(letters) for _ in range(size)))
        elif arg == "x":
            out.append(number() if index % 5 else rng.randint(0, 2000))
        else:
            size = rng.randint(0, 12) if index else 0
            values = [number() for _ in range(size)]
            if values and rng.random() < 0.4:
                values += rng.choices(values, k=rng.randint(1, 4))  # repeats to count
            out.append(values)
    return out


def _canon(value: Any) -> Any:
    """A comparable form that keeps types (``2`` is not ``2.0``) but not dict order."""
    if isinstance(value, dict):
        return ("dict", sorted(((_canon(k), _canon(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_canon(v) for v in value))
    return (type(value).__name__, value)


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _function(arg: str, expression: str) -> Callable[[Any], Any]:
    namespace: dict[str, Any] = {}
    exec(f"def f({arg}):\n    return {expression}\n", namespace)  # our own expressions
    function: Callable[[Any], Any] = namespace["f"]
    return function


def outputs(arg: str, expression: str, values: list[Any], seconds: float = 2.0) -> list[Any]:
    """The function's result (or the exception's type) on each input, in a comparable form
    (see :func:`_canon`); raises :class:`_Timeout` past ``seconds``."""
    function = _function(arg, expression)
    results: list[Any] = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        for value in values:
            try:
                result = function(copy.deepcopy(value))
                results.append(_canon(result))
            except _Timeout:
                raise
            except Exception as err:  # a mutant may raise; that is an output too
                results.append(("raised", type(err).__name__))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return results


def _rename_bound(tree: ast.Expression, arg: str) -> ast.Expression | None:
    """Rename the names bound by comprehensions and lambdas (not the function's argument)."""
    bound = {
        n.id
        for c in ast.walk(tree)
        if isinstance(c, ast.comprehension)
        for n in ast.walk(c.target)
        if isinstance(n, ast.Name)
    } | {a.arg for f in ast.walk(tree) if isinstance(f, ast.Lambda) for a in f.args.args}
    bound.discard(arg)
    if not bound:
        return None
    clone = copy.deepcopy(tree)
    for node in ast.walk(clone):
        if isinstance(node, ast.Name) and node.id in bound:
            node.id = node.id + "_"
        if isinstance(node, ast.arg) and node.arg in bound:
            node.arg = node.arg + "_"
    return clone


def _flip_comparisons(tree: ast.Expression) -> ast.Expression | None:
    clone = copy.deepcopy(tree)
    flipped = False
    for node in ast.walk(clone):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIPPED:
            node.left, node.comparators = node.comparators[0], [node.left]
            node.ops = [_FLIPPED[type(node.ops[0])]()]
            flipped = True
    return clone if flipped else None


def _commute(tree: ast.Expression) -> ast.Expression | None:
    clone = copy.deepcopy(tree)
    swapped = False
    for node in ast.walk(clone):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
            node.left, node.right = node.right, node.left
            swapped = True
    return clone if swapped else None


def variants(
    reference: str, arg: str, sample: Any, rng: random.Random, max_mutants: int
) -> list[Variant]:
    """Mutants (wrong) and rewrites (equivalent) of ``reference``, not yet checked by running.

    ``sample`` is one input; the reference's result on it becomes a constant answer.
    """
    tree = ast.parse(reference, mode="eval")
    mutants = [(name, ast.unparse(t)) for name, t in _edits(tree)]
    rng.shuffle(mutants)
    out: list[Variant] = [(name, text, True) for name, text in mutants[:max_mutants]]
    with contextlib.suppress(Exception):  # no constant from an input the reference rejects
        out.append(("constant answer", repr(_function(arg, reference)(sample)), True))
    for empty in ("0", "''", "[]", "{}"):
        out.append(("constant answer", empty, True))
    ints, _ = _constants(tree)
    out += [("constant answer", str(c), True) for c in sorted(set(ints))[:2]]
    out.append(("reference", reference, False))
    out.append(("whitespace", " " + ast.unparse(tree) + " ", False))
    out.append(("parenthesised", f"({reference})", False))
    out.append(("double quotes", reference.replace("'", '"'), False))
    for name, rewrite in (
        ("renamed bound variable", _rename_bound(tree, arg)),
        ("flipped comparison", _flip_comparisons(tree)),
        ("commuted + or *", _commute(tree)),
    ):
        if rewrite is not None:
            out.append((name, ast.unparse(rewrite), False))
    unique: dict[str, Variant] = {}
    for variant in out:
        unique.setdefault(variant[1], variant)
    return list(unique.values())


def checked(
    reference: str, arg: str, candidates: list[Variant], values: list[Any]
) -> tuple[list[Variant], int]:
    """The candidates that running confirms (mutants differ, rewrites agree); and how many not."""
    expected = outputs(arg, reference, values)
    kept: list[Variant] = []
    for name, text, wrong in candidates:
        try:
            got = outputs(arg, text, values)
        except _Timeout:
            got = None
        except SyntaxError:
            got = None
            if wrong:  # a syntax error is wrong whatever the inputs
                kept.append((name, text, wrong))
            continue
        if (got != expected) == wrong:
            kept.append((name, text, wrong))
    return kept, len(candidates) - len(kept)
