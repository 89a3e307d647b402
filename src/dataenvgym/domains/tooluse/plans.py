"""Whether a predicted plan makes the gold plan's calls, argument by argument.

A plan is read as a tree of calls: each call's ``$k`` arguments stand for the tree of the
``k``-th call. Two calls are the same when they call the same tool on the same arguments,
where

* a literal argument is compared by the value the tool reads from it: numbers by their
  numeric value (``478``, ``478.0``, ``+478``, ``0478`` are one number), dates by the date
  (``2025-07-30`` and ``20250730``), words, items, fields and units as exact text;
* a ``$k`` argument is compared by the call it names, recursively, so the order in which
  independent calls are written does not matter
  (``look(p1,price)|look(p2,price)|sub($1,$2)`` is ``look(p2,price)|look(p1,price)|sub($2,$1)``);
* the two arguments of the commutative tools ``add`` and ``mul`` are compared as a pair in
  either order.

A plan that reaches the gold answer with other arguments (``mul(422552,1)`` for
"478 times 884", a literal in place of a ``$k``) makes other calls and is not the same.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from dataclasses import dataclass

from dataenvgym.domains.tooluse.tools import TOOLS, ToolError, parse_plan, run_plan

#: What each argument of each tool is read as: ``num``, ``date`` or ``text``.
ARGUMENT_KINDS: dict[str, tuple[str, ...]] = {
    "add": ("num", "num"),
    "sub": ("num", "num"),
    "mul": ("num", "num"),
    "div": ("num", "num"),
    "conv": ("num", "text", "text"),
    "look": ("text", "text"),
    "dadd": ("date", "num"),
    "ddiff": ("date", "date"),
    "wday": ("date",),
    "rev": ("text",),
    "up": ("text",),
    "len": ("text",),
}
#: Tools whose result does not depend on the order of their arguments.
COMMUTATIVE = frozenset({"add", "mul"})

# A call tree: (tool, arguments); an argument is a literal ("num"/"date"/"text", value) or a
# call tree. Plain tuples, so trees compare with ``==`` and go into sets.
Tree = tuple[Hashable, ...]


def _literal(kind: str, text: str) -> Tree:
    """The value a tool reads from ``text``; unreadable text stays text (no gold has it)."""
    if kind == "num":
        try:
            number = float(text)
        except ValueError:
            return ("raw", text)
        # + 0.0 turns -0.0 into 0.0, whose repr sorts the same (see call_trees).
        return ("num", number + 0.0) if math.isfinite(number) else ("raw", text)
    if kind == "date":
        try:
            return ("date", dt.date.fromisoformat(text).isoformat())
        except ValueError:
            return ("raw", text)
    return ("text", text)


def call_trees(plan: str) -> list[Tree] | None:
    """Each call's tree, in the plan's order; ``None`` when the plan cannot run as written.

    A plan cannot run when it is not in the plan format, calls an unknown tool, gives a tool
    the wrong number of arguments or names a call that is not an earlier one.
    """
    try:
        calls = parse_plan(plan)
    except ToolError:
        return None
    trees: list[Tree] = []
    for call in calls:
        kinds = ARGUMENT_KINDS.get(call.tool)
        if kinds is None or call.tool not in TOOLS or len(kinds) != len(call.args):
            return None
        args: list[Tree] = []
        for kind, arg in zip(kinds, call.args, strict=True):
            if arg.startswith("$"):
                index = int(arg[1:]) if arg[1:].isdigit() else 0
                if not 1 <= index <= len(trees):
                    return None
                args.append(trees[index - 1])
            else:
                args.append(_literal(kind, arg))
        if call.tool in COMMUTATIVE:
            args.sort(key=repr)
        trees.append((call.tool, tuple(args)))
    return trees


def _all_used(plan: str) -> bool:
    """Every call but the last feeds a later one (no dead calls)."""
    calls = parse_plan(plan)
    used = {len(calls)}
    for position in range(len(calls), 0, -1):
        if position not in used:
            return False
        for arg in calls[position - 1].args:
            if arg.startswith("$") and arg[1:].isdigit():
                used.add(int(arg[1:]))
    return True


@dataclass(frozen=True)
class PlanComparison:
    """A predicted plan against the gold plan.

    Attributes:
        tools_exact: The tool names, in order, are the gold plan's (MnMs' plan accuracy).
        answer_right: Executing the plan gives the gold plan's answer.
        same_calls: The plan makes exactly the gold plan's calls (see the module's doc):
            its last call's tree is the gold's, and it makes no other call.
        calls_share: Share of the gold plan's calls the plan makes, each with the same
            arguments and fed by the same earlier calls.
    """

    tools_exact: bool
    answer_right: bool
    same_calls: bool
    calls_share: float

    @property
    def correct(self) -> bool:
        """All three: the same tools, the same calls and the same answer."""
        return self.tools_exact and self.same_calls and self.answer_right

    @property
    def partial(self) -> float:
        """Mean of tool-sequence exactness and the share of the gold calls made right."""
        return (self.tools_exact + self.calls_share) / 2


def compare_plans(gold_plan: str, prediction: str) -> PlanComparison:
    """Compare ``prediction`` with ``gold_plan`` (which must run)."""
    gold_tools, gold_answer = run_plan(gold_plan)
    tools, answer = run_plan(prediction)
    gold_trees = call_trees(gold_plan)
    if gold_trees is None:
        raise ValueError(f"the gold plan {gold_plan!r} is not a runnable plan")
    trees = call_trees(prediction)
    same, share = False, 0.0
    if trees:
        same = (
            trees[-1] == gold_trees[-1] and len(trees) == len(gold_trees) and _all_used(prediction)
        )
        made = set(trees)
        share = sum(tree in made for tree in gold_trees) / len(gold_trees)
    return PlanComparison(
        tools_exact=tools == gold_tools,
        answer_right=answer is not None and answer == gold_answer,
        same_calls=same,
        calls_share=share,
    )
