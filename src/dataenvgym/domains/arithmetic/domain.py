"""The built-in arithmetic domain: a real skill taxonomy with a generator per subskill.

The taxonomy is designed so that a teacher's state matters (see docs/when-state-pays.md): the base
student masters a few subskills, some are weak but learnable within an episode's budget, and
a few stay out of reach. Uniform data wastes budget on the first and the last group.
"""

from __future__ import annotations

import ast
import hashlib
import operator
import random
import re
from collections.abc import Callable

from pydantic import BaseModel, Field

from dataenvgym.domains.arithmetic import generators as g
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

NAME = "arithmetic"

# skill -> subskill -> (description, generator)
CATALOGUE: dict[str, dict[str, tuple[str, g.Generator]]] = {
    "addition": {
        "no_carry": ("two 3-digit numbers, no column carries", g.add_no_carry),
        "carry": ("two 3-digit numbers, exactly one column carries", g.add_carry),
        "carry_chain": ("two 3-digit numbers, ones and tens both carry", g.add_carry_chain),
    },
    "subtraction": {
        "no_borrow": ("3-digit minus a smaller 3-digit number, no borrow", g.sub_no_borrow),
        "borrow": ("3-digit minus a smaller 3-digit number, exactly one borrow", g.sub_borrow),
        "borrow_chain": ("3-digit minus a smaller one, ones and tens borrow", g.sub_borrow_chain),
        "negative": ("3-digit minus a larger 3-digit number (negative result)", g.sub_negative),
    },
    "multiplication": {
        "by_one_digit": ("a 3-digit number times a digit 3-9", g.mul_by_one_digit),
        "two_digit": ("2-digit times 2-digit", g.mul_two_digit),
    },
    "division": {
        "remainder": ("remainder of a 3-digit number divided by a digit 2-9", g.div_remainder),
    },
}

SKILL_DESCRIPTIONS = {
    "addition": "adding non-negative integers",
    "subtraction": "subtracting integers, including negative results",
    "multiplication": "multiplying integers",
    "division": "integer division and remainders",
}

#: The base student's pretraining mix: heavy on the subskills it should master, light on the
#: learnable ones (so they start weak, not absent), nothing on the ones meant to stay hard.
DEFAULT_PRETRAINING_MIX: dict[str, float] = {
    "addition/no_carry": 0.35,
    "addition/carry": 0.03,
    "addition/carry_chain": 0.02,
    "subtraction/no_borrow": 0.35,
    "subtraction/borrow": 0.03,
    "subtraction/borrow_chain": 0.02,
    "subtraction/negative": 0.02,
    "multiplication/by_one_digit": 0.06,
    "multiplication/two_digit": 0.06,
    "division/remainder": 0.06,
}


class ArithmeticConfig(BaseModel):
    """Sizes of the arithmetic splits and the base student's mix."""

    val_per_subskill: int = Field(default=200, description="Validation items per subskill.")
    test_per_subskill: int = Field(default=200, description="Test items per subskill.")
    pretraining_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRETRAINING_MIX))


_NUMBER = re.compile(r"^\s*(-?)0*(\d+)\s*$")
_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Mod: operator.mod,
}


def parse_int(text: str) -> int | None:
    """Parse an answer like ``"0068"``, ``"-022"`` or ``" 68 "``; ``None`` if not an integer."""
    match = _NUMBER.match(text)
    if match is None:
        return None
    return int(match.group(2)) * (-1 if match.group(1) else 1)


def evaluate_prompt(prompt: str) -> int:
    """Compute the value of an arithmetic prompt such as ``"023+045="``.

    ``/`` is exact integer division. Raises ``ValueError`` for anything else than integers,
    ``+ - * / %`` and parentheses, or for a division that leaves a remainder.
    """
    body = prompt.strip()
    if not body.endswith("="):
        raise ValueError("prompt must end with '='")
    # Python rejects leading zeros in integer literals; the domain's format pads with them.
    expression = re.sub(r"\b0+(\d)", r"\1", body[:-1])
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise ValueError(f"not an arithmetic expression: {prompt!r}") from err

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = walk(node.left), walk(node.right)
            if right == 0 or left % right:
                raise ValueError(f"{prompt!r} is not an exact division")
            return left // right
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"unsupported element in arithmetic prompt {prompt!r}")

    return walk(tree.body)


def partial_credit(gold: int, predicted: int | None) -> float:
    """Share of the gold answer's significant characters (digits and sign) predicted right.

    Digits are aligned from the ones place and only significant characters count, so zero
    padding earns nothing; extra predicted digits lower the score. The sign is a character
    only where one of the two numbers is negative.
    """
    if predicted is None:
        return 0.0
    if gold == predicted:
        return 1.0
    gold_text, pred_text = str(abs(gold)), str(abs(predicted))
    hits = sum(a == b for a, b in zip(reversed(gold_text), reversed(pred_text), strict=False))
    signed = gold < 0 or predicted < 0
    if signed:
        hits += (gold < 0) == (predicted < 0)
    return hits / (max(len(gold_text), len(pred_text)) + signed)


def datum_id(prompt: str, response: str) -> str:
    """A content-derived id, so identical data get identical ids."""
    return hashlib.sha1(f"{prompt}\x00{response}".encode()).hexdigest()[:16]


class ArithmeticDomain:
    """Built-in arithmetic: 4 skills, 10 subskills, exact scorer with partial credit."""

    name = NAME
    #: Bumped when a change to the generators, splits or scorer makes earlier runs
    #: incomparable; kept in every run summary, and a leaderboard never mixes versions.
    version = "1"
    #: The oracle plays whole-episode plans here (``OracleConfig.commit``): measured, they end
    #: well above the one-step look-ahead in this domain, in under half its time (docs/training.md).
    oracle_commit = True

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=skill,
                description=SKILL_DESCRIPTIONS[skill],
                subskills={sub: desc for sub, (desc, _) in subs.items()},
            )
            for skill, subs in CATALOGUE.items()
        ]

    def _generator(self, skill: str, subskill: str) -> g.Generator:
        try:
            return CATALOGUE[skill][subskill][1]
        except KeyError:
            known = ", ".join(subskill_key(s, u) for s, subs in CATALOGUE.items() for u in subs)
            raise KeyError(
                f"unknown arithmetic subskill {skill}/{subskill}; known: {known}"
            ) from None

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Balanced per subskill; every prompt appears at most once across both splits."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        n_val, n_test = self.config.val_per_subskill, self.config.test_per_subskill
        for skill, subs in CATALOGUE.items():
            for subskill, (_, generate) in subs.items():
                rng = random.Random(f"splits:{seed}:{skill}/{subskill}")
                seen: dict[str, int] = {}
                attempts = 0
                while len(seen) < n_val + n_test:
                    problem = generate(rng)
                    seen.setdefault(problem.prompt, problem.value)
                    attempts += 1
                    if attempts > 50 * (n_val + n_test):
                        raise ValueError(f"{skill}/{subskill} has too few distinct problems")
                for index, (prompt, value) in enumerate(seen.items()):
                    split, target = ("val", val) if index < n_val else ("test", test)
                    target.append(
                        TaskInstance(
                            id=f"{split}-{skill}-{subskill}-{index:04d}",
                            domain=NAME,
                            prompt=prompt,
                            answer=g.fmt_answer(value),
                            skill=skill,
                            subskill=subskill,
                        )
                    )
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        gold = parse_int(instance.answer)
        if gold is None:
            raise ValueError(f"instance {instance.id} has a non-integer answer {instance.answer!r}")
        predicted = parse_int(prediction)
        return Score(correct=predicted == gold, partial=partial_credit(gold, predicted))

    #: The question format, for engines that constrain what an LLM writes (a JSON-schema
    #: ``pattern``): two zero-padded 3-digit operands, one operator, "=" (no zero divisor).
    prompt_pattern = r"^[0-9]{3}[-+*%][0-9]{2}[1-9]=$"

    def reference_answer(self, prompt: str) -> str | None:
        """The canonical answer to a question, or None when it is not one of this domain."""
        try:
            return g.fmt_answer(evaluate_prompt(prompt))
        except (ValueError, ZeroDivisionError):
            return None

    def verify(self, datum: TrainingDatum) -> str | None:
        """Recompute the answer from the prompt; the response must be it, in canonical form."""
        try:
            value = evaluate_prompt(datum.prompt)
        except ValueError as err:
            return str(err)
        expected = g.fmt_answer(value)
        if datum.response != expected:
            return f"response {datum.response!r} != {expected!r} for {datum.prompt!r}"
        return None

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        generate = self._generator(skill, subskill)
        data = []
        for _ in range(count):
            problem = generate(rng)
            response = g.fmt_answer(problem.value)
            data.append(
                TrainingDatum(
                    id=datum_id(problem.prompt, response),
                    domain=NAME,
                    prompt=problem.prompt,
                    response=response,
                    skill=skill,
                    subskill=subskill,
                    source="procedural",
                )
            )
        return data

    def pretraining_mix(self) -> dict[str, float]:
        return dict(self.config.pretraining_mix)
