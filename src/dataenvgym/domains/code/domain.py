"""The built-in code domain: write the expression a Python function returns, from a line.

8 skills, 16 subskills (see :mod:`~dataenvgym.domains.code.templates`). The student answers
with one expression; the scorer wraps it as ``def f(<arg>):\\n    return <expression>`` and
runs it against the instance's hidden tests in the sandbox: ``correct`` is pass@1 (every
test passes), ``partial`` the share of tests passed. Scoring and verification are batched
(:mod:`~dataenvgym.domains.code.batch`) and memoised, so a validation split costs a few
sandboxed processes, not one per item.

Every generated datum is checked the same way: its prompt is parsed back into its template
and parameters, the tests are derived from the prompt alone, and its response must pass them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.code.batch import BatchJob, BatchVerdict, run_test_batch
from dataenvgym.domains.code.sandbox import SandboxConfig
from dataenvgym.domains.code.templates import CATALOGUE, SKILL_DESCRIPTIONS, Params, Template
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

NAME = "code"

#: The base student's mix: four subskills it should master; eight it sees a few dozen
#: examples of (weak, learnable within an episode); four it never sees. Measured with the
#: default student after 600 steps on a mix that gave the middle group 400 examples each:
#: those were already at 0.67-0.98 (``replace`` at 0.00), too strong to leave a teacher room.
DEFAULT_PRETRAINING_MIX: dict[str, float] = {
    "filtering/threshold": 0.2,
    "mapping/scale": 0.2,
    "aggregation/extreme": 0.2,
    "strings/slice": 0.2,
    "filtering/remainder": 0.003,
    "mapping/affine": 0.003,
    "aggregation/conditional_sum": 0.003,
    "strings/replace": 0.003,
    "conditionals/pick": 0.003,
    "index_loops/indices": 0.003,
    "counting/item_counts": 0.003,
    "sorting/by_remainder": 0.003,
    "conditionals/parity": 0.0,
    "index_loops/weighted": 0.0,
    "counting/remainder_counts": 0.0,
    "sorting/by_distance": 0.0,
}

#: The tiny student's size and budget for this domain (see ``registry.DOMAIN_DEFAULTS``):
#: prompts up to 33 characters and answers up to 57 need a longer context than arithmetic.
TINY_STUDENT_DEFAULTS: dict[str, Any] = {"max_len": 96, "max_new_tokens": 60}
#: Pretraining for this domain: 600 steps master the heavy part of the mix (measured).
PRETRAIN_DEFAULTS: dict[str, Any] = {"steps": 600}


class CodeConfig(BaseModel):
    """Sizes of the code splits, the base student's mix and the sandbox's limits."""

    model_config = ConfigDict(extra="forbid")

    val_per_subskill: int = Field(default=60, ge=1, description="Validation items per subskill.")
    test_per_subskill: int = Field(default=60, ge=1, description="Test items per subskill.")
    pretraining_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRETRAINING_MIX))
    tests_per_item: int = Field(default=4, ge=1, le=8, description="Hidden tests per item.")
    per_solution_timeout_s: float = Field(default=2.0, gt=0)
    max_concurrency: int = Field(default=2, ge=1, description="Sandboxed processes at once.")
    memory_mb: int = Field(default=512, ge=64)


@dataclass(frozen=True)
class ParsedTask:
    """A prompt recognised as one template with its parameters."""

    skill: str
    subskill: str
    template: Template
    params: Params


def parse_prompt(prompt: str) -> ParsedTask | None:
    """Which template and parameters ``prompt`` is, or ``None`` if it is none of them."""
    for skill, subs in CATALOGUE.items():
        for subskill, (_, templates) in subs.items():
            for template in templates:
                params = template.parse(prompt)
                if params is not None:
                    return ParsedTask(skill, subskill, template, params)
    return None


def hidden_tests(task: ParsedTask, count: int) -> list[str]:
    """The tests of a task: assertions on inputs drawn from the prompt alone.

    The same prompt always gets the same tests, whoever wrote the datum.
    """
    rng = random.Random(f"tests:{task.template.render(task.params)[0]}")
    function = task.template.reference(task.params)
    inputs = task.template.inputs(rng, task.params)
    while len(inputs) < count:
        inputs += task.template.inputs(rng, task.params)
    return [f"assert f({value!r}) == {function(value)!r}" for value in inputs[:count]]


def solution_source(arg: str, expression: str) -> str:
    """The function a predicted expression stands for."""
    return f"def f({arg}):\n    return {expression.strip()}\n"


def datum_id(prompt: str, response: str) -> str:
    """A content-derived id, so identical data get identical ids."""
    return hashlib.sha1(f"{NAME}\x00{prompt}\x00{response}".encode()).hexdigest()[:16]


class CodeDomain:
    """Built-in code: 8 skills, 16 subskills, pass@1 by running hidden tests in the sandbox."""

    name = NAME

    def __init__(self, config: CodeConfig | None = None) -> None:
        self.config = config or CodeConfig()
        self.sandbox = SandboxConfig(
            timeout_s=5.0,
            cpu_seconds=max(2, int(self.config.per_solution_timeout_s) + 1),
            memory_mb=self.config.memory_mb,
            max_concurrency=self.config.max_concurrency,
            max_output_bytes=1 << 20,
        )
        self._verdicts: dict[tuple[str, tuple[str, ...]], BatchVerdict] = {}

    # ------------------------------------------------------------------ taxonomy and data

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=skill,
                description=SKILL_DESCRIPTIONS[skill],
                subskills={sub: desc for sub, (desc, _) in subs.items()},
            )
            for skill, subs in CATALOGUE.items()
        ]

    def _templates(self, skill: str, subskill: str) -> list[Template]:
        try:
            return CATALOGUE[skill][subskill][1]
        except KeyError:
            known = ", ".join(subskill_key(s, u) for s, subs in CATALOGUE.items() for u in subs)
            raise KeyError(f"unknown code subskill {skill}/{subskill}; known: {known}") from None

    def _draw(self, skill: str, subskill: str, rng: random.Random) -> ParsedTask:
        template = rng.choice(self._templates(skill, subskill))
        return ParsedTask(skill, subskill, template, template.params(rng))

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Balanced per subskill; every prompt appears at most once across both splits."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        n_val, n_test = self.config.val_per_subskill, self.config.test_per_subskill
        for skill, subs in CATALOGUE.items():
            for subskill in subs:
                rng = random.Random(f"code-splits:{seed}:{skill}/{subskill}")
                seen: dict[str, ParsedTask] = {}
                attempts = 0
                while len(seen) < n_val + n_test:
                    task = self._draw(skill, subskill, rng)
                    seen.setdefault(task.template.render(task.params)[0], task)
                    attempts += 1
                    if attempts > 50 * (n_val + n_test):
                        raise ValueError(f"{skill}/{subskill} has too few distinct prompts")
                for index, (prompt, task) in enumerate(seen.items()):
                    split, target = ("val", val) if index < n_val else ("test", test)
                    target.append(
                        TaskInstance(
                            id=f"{split}-{skill}-{subskill}-{index:04d}",
                            domain=NAME,
                            prompt=prompt,
                            answer=task.template.render(task.params)[1],
                            skill=skill,
                            subskill=subskill,
                            metadata={
                                "arg": task.template.arg,
                                "tests": hidden_tests(task, self.config.tests_per_item),
                            },
                        )
                    )
        return val, test

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        data = []
        for _ in range(count):
            task = self._draw(skill, subskill, rng)
            prompt, response = task.template.render(task.params)
            data.append(
                TrainingDatum(
                    id=datum_id(prompt, response),
                    domain=NAME,
                    prompt=prompt,
                    response=response,
                    skill=skill,
                    subskill=subskill,
                    source="procedural",
                )
            )
        return data

    def pretraining_mix(self) -> dict[str, float]:
        return dict(self.config.pretraining_mix)

    # ------------------------------------------------------------------ running code

    def run(self, jobs: Sequence[BatchJob]) -> list[BatchVerdict]:
        """Verdicts for ``jobs``, each distinct job run once in the sandbox (memoised)."""
        keys = [(job.solution, job.tests) for job in jobs]
        missing = list(dict.fromkeys(k for k in keys if k not in self._verdicts))
        if missing:
            verdicts = run_test_batch(
                [BatchJob(solution, tests) for solution, tests in missing],
                self.sandbox,
                per_job_timeout=self.config.per_solution_timeout_s,
            )
            if len(self._verdicts) > 200_000:  # bound the memo over very long runs
                self._verdicts.clear()
            self._verdicts.update(zip(missing, verdicts, strict=True))
        return [self._verdicts[k] for k in keys]

    def _job(self, instance: TaskInstance, prediction: str) -> BatchJob:
        tests = instance.metadata.get("tests")
        arg = instance.metadata.get("arg")
        if not isinstance(tests, list) or not isinstance(arg, str):
            # An instance made from a datum (Skill-Tree scores the student on its own data):
            # the prompt determines the tests.
            task = parse_prompt(instance.prompt)
            if task is None:
                raise ValueError(f"code instance {instance.id} has no tests and no known prompt")
            tests, arg = hidden_tests(task, self.config.tests_per_item), task.template.arg
        return BatchJob(solution_source(arg, prediction), tuple(tests))

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        return self.score_many([instance], [prediction])[0]

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """pass@1 and the share of tests passed, for many answers at once."""
        verdicts = self.run([self._job(i, p) for i, p in zip(instances, predictions, strict=True)])
        return [
            Score(correct=v.all_passed, partial=v.passed / v.total if v.total else 0.0)
            for v in verdicts
        ]

    def verify(self, datum: TrainingDatum) -> str | None:
        return self.verify_many([datum])[0]

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        """Why each datum is wrong (``None`` when it is right), running all at once.

        A datum is right when its prompt is a task of this domain, its labels (when given)
        are that task's, and its response passes the tests derived from the prompt.
        """
        reasons: list[str | None] = [None] * len(data)
        to_run: list[tuple[int, BatchJob]] = []
        for index, datum in enumerate(data):
            task = parse_prompt(datum.prompt)
            if task is None:
                reasons[index] = f"not a task of the code domain: {datum.prompt!r}"
                continue
            labelled = (datum.skill, datum.subskill)
            if datum.skill is not None and labelled != (task.skill, task.subskill):
                reasons[index] = (
                    f"labelled {subskill_key(*labelled)} but {datum.prompt!r} is a "
                    f"{subskill_key(task.skill, task.subskill)} task"
                )
                continue
            tests = hidden_tests(task, self.config.tests_per_item)
            job = BatchJob(solution_source(task.template.arg, datum.response), tuple(tests))
            to_run.append((index, job))
        verdicts = self.run([job for _, job in to_run])
        for (index, _), verdict in zip(to_run, verdicts, strict=True):
            if not verdict.all_passed:
                reasons[index] = (
                    f"response passes {verdict.passed} of {verdict.total} tests: {verdict.error}"
                )
        return reasons
