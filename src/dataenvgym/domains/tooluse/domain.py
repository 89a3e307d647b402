"""The built-in tool-use domain: answer a short query with a plan of 1-3 tool calls.

7 skills, 16 subskills: tool families and their combinations, and numbers a query names in
words or as the i-th prime (see :mod:`~dataenvgym.domains.tooluse.templates`). The student
writes the plan in the fixed text format of :mod:`~dataenvgym.domains.tooluse.tools`. A plan is
**correct** when it makes the query's calls (:mod:`~dataenvgym.domains.tooluse.plans`): the
same tools, in order, each on the query's values or on the results of the same earlier calls,
and so the same answer. A plan that reaches the answer with other arguments (a hard-coded
result) is wrong. ``partial`` is the mean of

* **plan accuracy** (MnMs' tool-sequence exactness): the predicted tool names, in order, equal
  the gold plan's;
* **calls right**: the share of the gold plan's calls the prediction makes, arguments
  included.

Plans are parsed and run by our own executor, never as Python, so no sandbox is needed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.tooluse.plans import PlanComparison, call_trees, compare_plans
from dataenvgym.domains.tooluse.templates import (
    CATALOGUE,
    SKILL_DESCRIPTIONS,
    Params,
    QueryTemplate,
)
from dataenvgym.domains.tooluse.tools import run_plan
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

NAME = "tool-use"

#: Five one-call subskills the base student should master, five two-call ones it sees a few
#: dozen examples of, and two it never sees (three calls; a two-date query). With 600
#: examples each the middle group started at 0.59-1.00 (measured): too strong.
DEFAULT_PRETRAINING_MIX: dict[str, float] = {
    "calculator/one_op": 0.16,
    "units/convert": 0.16,
    "lookup/field": 0.16,
    "dates/shift": 0.16,
    "text/single": 0.16,
    "calculator/two_ops": 0.003,
    "units/convert_scale": 0.003,
    "lookup/field_convert": 0.003,
    "dates/weekday": 0.003,
    "text/chain": 0.003,
    "lookup/compare": 0.0,
    "dates/span": 0.0,
    "number_words/calc": 0.0,
    "number_words/convert": 0.0,
    "number_facts/prime_calc": 0.0,
    "number_facts/prime_convert": 0.0,
}

#: The tiny student's context for this domain (queries up to 36 characters, plans up to 50);
#: batches are trained in 3 pieces by length: 1.5x faster steps, the same gradient up to
#: rounding (bench/fit_speed.py).
TINY_STUDENT_DEFAULTS: dict[str, Any] = {"max_len": 96, "max_new_tokens": 56, "length_groups": 3}
#: Pretraining for this domain: 600 steps master the one-call subskills (measured).
PRETRAIN_DEFAULTS: dict[str, Any] = {"steps": 600}


class ToolUseConfig(BaseModel):
    """Sizes of the tool-use splits and the base student's mix."""

    model_config = ConfigDict(extra="forbid")

    val_per_subskill: int = Field(default=200, ge=1, description="Validation items per subskill.")
    test_per_subskill: int = Field(default=200, ge=1, description="Test items per subskill.")
    pretraining_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRETRAINING_MIX))


@dataclass(frozen=True)
class ParsedQuery:
    """A query recognised as one template with its parameters."""

    skill: str
    subskill: str
    template: QueryTemplate
    params: Params


def parse_query(prompt: str) -> ParsedQuery | None:
    """Which template and parameters ``prompt`` is, or ``None``."""
    for skill, subs in CATALOGUE.items():
        for subskill, (_, templates) in subs.items():
            for template in templates:
                params = template.parse(prompt)
                if params is not None:
                    return ParsedQuery(skill, subskill, template, params)
    return None


def plan_scores(gold_plan: str, prediction: str) -> tuple[bool, bool]:
    """(tool sequence exact, answer right) of ``prediction`` against ``gold_plan``.

    These are MnMs' two summary numbers; neither checks the calls' arguments, so a plan can
    have both and still be wrong (see :func:`~dataenvgym.domains.tooluse.plans.compare_plans`).
    """
    gold_tools, gold_answer = run_plan(gold_plan)
    tools, answer = run_plan(prediction)
    return tools == gold_tools, answer is not None and answer == gold_answer


def _why_wrong(gold: str, plan: str, compared: PlanComparison) -> str | None:
    if not compared.tools_exact:
        return f"plan {plan!r} does not call the tools of {gold!r}"
    if not compared.answer_right:
        return f"plan {plan!r} does not give the answer of {gold!r}"
    if not compared.same_calls:
        return f"plan {plan!r} reaches the answer but its arguments are not the query's: {gold!r}"
    return None


def datum_id(prompt: str, response: str) -> str:
    """A content-derived id, so identical data get identical ids."""
    return hashlib.sha1(f"{NAME}\x00{prompt}\x00{response}".encode()).hexdigest()[:16]


class ToolUseDomain:
    """Built-in tool use: 7 skills, 16 subskills; plan accuracy and executed answers."""

    name = NAME
    #: Bumped when a change to the generators, splits or scorer makes earlier runs
    #: incomparable; kept in every run summary, and a leaderboard never mixes versions.
    # 2: plans checked argument by argument; 200-item splits.
    # 3: numbers in words (slow to learn) and primes by index (facts: out of reach).
    # 4: an item table of 3,000 rows (was 300) and primes among the first 3,000 (was 300),
    #    so held-out prompts are a small share of lookups' and prime conversions' draws.
    version = "4"

    def __init__(self, config: ToolUseConfig | None = None) -> None:
        self.config = config or ToolUseConfig()

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=skill,
                description=SKILL_DESCRIPTIONS[skill],
                subskills={sub: desc for sub, (desc, _) in subs.items()},
            )
            for skill, subs in CATALOGUE.items()
        ]

    def _draw(self, skill: str, subskill: str, rng: random.Random) -> tuple[str, str]:
        try:
            templates = CATALOGUE[skill][subskill][1]
        except KeyError:
            known = ", ".join(subskill_key(s, u) for s, subs in CATALOGUE.items() for u in subs)
            raise KeyError(
                f"unknown tool-use subskill {skill}/{subskill}; known: {known}"
            ) from None
        template = rng.choice(templates)
        return template.render(template.params(rng))

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Balanced per subskill; every query appears at most once across both splits."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        n_val, n_test = self.config.val_per_subskill, self.config.test_per_subskill
        for skill, subs in CATALOGUE.items():
            for subskill in subs:
                rng = random.Random(f"tool-use-splits:{seed}:{skill}/{subskill}")
                seen: dict[str, str] = {}
                attempts = 0
                while len(seen) < n_val + n_test:
                    prompt, plan = self._draw(skill, subskill, rng)
                    seen.setdefault(prompt, plan)
                    attempts += 1
                    if attempts > 50 * (n_val + n_test):
                        raise ValueError(f"{skill}/{subskill} has too few distinct queries")
                for index, (prompt, plan) in enumerate(seen.items()):
                    split, target = ("val", val) if index < n_val else ("test", test)
                    tools, answer = run_plan(plan)
                    target.append(
                        TaskInstance(
                            id=f"{split}-{skill}-{subskill}-{index:04d}",
                            domain=NAME,
                            prompt=prompt,
                            answer=plan,
                            skill=skill,
                            subskill=subskill,
                            metadata={"tools": tools, "result": answer},
                        )
                    )
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        """Correct when the plan makes the query's calls; partial: see the module's doc.

        The gold plan is rebuilt from the values parsed from the query (the instance's
        ``answer`` when the prompt is not one of this domain's queries). An instance whose
        gold plan cannot run scores 0.
        """
        query = parse_query(instance.prompt)
        gold = query.template.render(query.params)[1] if query else instance.answer
        if call_trees(gold) is None:
            return Score(correct=False, partial=0.0)
        compared = compare_plans(gold, prediction)
        return Score(correct=compared.correct, partial=compared.partial)

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """:meth:`score` of each prediction, in order."""
        return [self.score(i, p) for i, p in zip(instances, predictions, strict=True)]

    def plan_accuracy(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> dict[str, float]:
        """MnMs-style summary over a split: tool-sequence exactness, answer accuracy, and
        call accuracy (the share of predictions that make exactly the gold plan's calls)."""
        compared = [compare_plans(i.answer, p) for i, p in zip(instances, predictions, strict=True)]
        n = max(1, len(compared))
        return {
            "plan_accuracy": sum(c.tools_exact for c in compared) / n,
            "answer_accuracy": sum(c.answer_right for c in compared) / n,
            "call_accuracy": sum(c.same_calls for c in compared) / n,
        }

    def verify(self, datum: TrainingDatum) -> str | None:
        """Right when the query is one of ours and the plan makes its calls.

        The gold plan is rebuilt from the values parsed from the query; the plan must call the
        same tools in the same order, on those values (or on the same earlier calls' results),
        and so give the same answer. Equivalent rewrites pass (commuted ``add``/``mul``
        arguments, ``478.0`` for ``478``, independent calls in another order).
        """
        query = parse_query(datum.prompt)
        if query is None:
            return f"not a tool-use query: {datum.prompt!r}"
        labelled = (datum.skill, datum.subskill)
        if datum.skill is not None and labelled != (query.skill, query.subskill):
            return (
                f"labelled {subskill_key(*labelled)} but {datum.prompt!r} is a "
                f"{subskill_key(query.skill, query.subskill)} query"
            )
        gold = query.template.render(query.params)[1]
        return _why_wrong(gold, datum.response, compare_plans(gold, datum.response))

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        """:meth:`verify` of each datum, in order."""
        return [self.verify(d) for d in data]

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        data = []
        for _ in range(count):
            prompt, plan = self._draw(skill, subskill, rng)
            data.append(
                TrainingDatum(
                    id=datum_id(prompt, plan),
                    domain=NAME,
                    prompt=prompt,
                    response=plan,
                    skill=skill,
                    subskill=subskill,
                    source="procedural",
                )
            )
        return data

    def pretraining_mix(self) -> dict[str, float]:
        return dict(self.config.pretraining_mix)
