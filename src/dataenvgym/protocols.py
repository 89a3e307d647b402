"""The interfaces the pieces of a teaching loop meet through.

Environments know students, trainers, evaluators, skill discovery and domains only through
these protocols; agents only through observations and actions. Each protocol is small on
purpose, so that a user's own student, domain or agent needs only a couple of methods.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from dataenvgym.types import (
    Action,
    EvaluationResult,
    Observation,
    Score,
    Skill,
    TaskInstance,
    TrainingDatum,
    TrainStats,
)


@runtime_checkable
class Student(Protocol):
    """A model that answers task instances and learns from training data."""

    def predict(self, instances: Sequence[TaskInstance]) -> list[str]:
        """Answer each instance (greedy), in order."""
        ...

    def fit(self, data: Sequence[TrainingDatum], *, steps: int, seed: int) -> TrainStats:
        """Train in place for ``steps`` optimiser steps on batches drawn from ``data``."""
        ...

    def save(self, directory: Path) -> None:
        """Write a checkpoint that :meth:`load` can restore."""
        ...

    def load(self, directory: Path) -> None:
        """Restore weights (and optimiser state where relevant) from :meth:`save`'s output."""
        ...


@runtime_checkable
class AdapterStudent(Protocol):
    """A student whose training changes only a small part (a LoRA adapter, say).

    The runner keeps that part of every iteration in the run folder
    (``iteration_NNN/adapter/``), which is cheap where a whole checkpoint would not be.
    """

    def save_adapter(self, directory: Path) -> None:
        """Write what training changed (not the frozen base) into ``directory``."""
        ...


@dataclass
class BaseStudent:
    """The student an episode starts from.

    Attributes:
        student: The model, ready to answer and train.
        checkpoint: Where its weights are saved (retraining restarts from here).
        training_data: What it was pretrained on (replayed against forgetting); may be empty.
        cached: Whether it was loaded from the cache rather than trained now.
    """

    student: Student
    checkpoint: Path
    training_data: list[TrainingDatum] = field(default_factory=list)
    cached: bool = False


@runtime_checkable
class Trainer(Protocol):
    """How the student learns from the data accumulated over an episode."""

    def train(
        self,
        student: Student,
        new_data: Sequence[TrainingDatum],
        accumulated: Sequence[TrainingDatum],
        *,
        base: BaseStudent,
        iteration: int,
        seed: int,
    ) -> TrainStats:
        """Update ``student`` after an iteration produced ``new_data``.

        ``accumulated`` holds every datum of the episode so far, ``new_data`` included;
        ``base`` tells where the base student was saved and what it was trained on.
        """
        ...


@runtime_checkable
class StudentFactory(Protocol):
    """Builds (or loads from its cache) the base student an episode starts from."""

    name: str

    def base_student(self, domain: Domain, *, seed: int, exclude_prompts: set[str]) -> BaseStudent:
        """The base student for ``domain``, its saved checkpoint and what it was trained on.

        ``exclude_prompts`` are validation and test prompts that pretraining must not see.
        """
        ...


@runtime_checkable
class Evaluator(Protocol):
    """Runs a student on a split and scores each answer with the domain's scorer."""

    def evaluate(self, student: Student, instances: Sequence[TaskInstance]) -> EvaluationResult:
        """Predict, score and aggregate per skill and per subskill."""
        ...


@runtime_checkable
class Domain(Protocol):
    """A task family: its format, scorer, skills and splits.

    Attributes:
        name: The domain's name; every item and datum it makes carries it in ``domain``.

    A domain may also set ``version: str`` (optional; read as ``getattr(domain, "version",
    "0")``): bump it whenever the generator or the splits change in a way the output of a
    few items might not show, so that cached base students are rebuilt.

    Environments built by name (``make_env``, ``gym.make``, the CLI) check a domain that
    the library does not ship against this contract before anything is trained (see
    :mod:`dataenvgym.domains.contract` and ``dataenvgym check-domain``).
    """

    name: str

    def skills(self) -> list[Skill]:
        """The gold taxonomy: skills with their subskills."""
        ...

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Validation and test instances, balanced per subskill and disjoint.

        Both must be non-empty; ids must be unique, no prompt may be in both splits, and every
        item's ``skill``/``subskill`` must be one of :meth:`skills` (or ``None``).
        """
        ...

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        """Exact correctness and partial credit of ``prediction``.

        Must accept any string (students write garbage) and score the gold answer correct.
        """
        ...

    def verify(self, datum: TrainingDatum) -> str | None:
        """Check a generated datum; return why it is wrong, or ``None`` when it is right."""
        ...


@runtime_checkable
class BatchDomain(Protocol):
    """A domain that scores and verifies many items at once (e.g. by running code).

    Evaluators and environments use these methods instead of one call per item when a
    domain has them; the results must equal :meth:`Domain.score` and :meth:`Domain.verify`.
    """

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """Scores of ``predictions``, in order."""
        ...

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        """For each datum, why it is wrong, or ``None`` when it is right."""
        ...


@runtime_checkable
class ProceduralDomain(Domain, Protocol):
    """A domain that can also generate data and a skewed pretraining mix.

    Every built-in text domain is one; implement it in your own domain to use the built-in
    tiny students (pretrained on :meth:`pretraining_mix`), the offline teachers and the oracle.
    """

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        """Generate ``count`` correct training data for one subskill.

        Each datum's ``domain`` is :attr:`name`, its ``skill``/``subskill`` the ones asked for,
        and :meth:`verify` accepts it. Its ``id`` is derived from its content (e.g. a hash of
        prompt and response), so that the same datum always gets the same id. Draw every
        random choice from ``rng`` (never from global state), so that runs reproduce. When the
        subskill has fewer than ``count`` distinct items left, return the ones there are:
        fewer, never more, and never padding that is wrong or from another subskill.
        """
        ...

    def pretraining_mix(self) -> dict[str, float]:
        """Weight of each ``skill/subskill`` in the base student's pretraining data."""
        ...


@dataclass(frozen=True)
class TextLimits:
    """What a text student can read and write, in characters (``None``: no limit).

    Attributes:
        student: The student's name, for messages.
        max_response: Longest answer it writes.
        max_total: Longest prompt + answer it fits in its context.
        alphabet: The characters it knows; others are lost (``None``: any character).
    """

    student: str
    max_response: int | None = None
    max_total: int | None = None
    alphabet: frozenset[str] | None = None


@runtime_checkable
class LimitedStudentFactory(Protocol):
    """A student factory whose students read and write only so much text.

    The domain contract check compares a domain's prompts and answers with these limits, so
    that an answer the student cannot write is an error before training, not a silent 0.
    """

    def text_limits(self) -> TextLimits:
        """The limits of the students this factory builds."""
        ...


@runtime_checkable
class SkillDiscovery(Protocol):
    """Maps instances to skills: gold labels or labels inferred by an LLM."""

    def discover(self, instances: Sequence[TaskInstance]) -> list[Skill]:
        """The skill set (with subskills where known) for these instances."""
        ...

    def assign(self, instances: Sequence[TaskInstance]) -> list[TaskInstance]:
        """The same instances with ``skill`` (and ``subskill`` where known) filled in."""
        ...


@runtime_checkable
class Policy(Protocol):
    """Observation -> plan: an action whose ``data`` is still empty."""

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous episode; seed any randomness."""
        ...

    def plan(self, observation: Observation) -> Action:
        """Decide what data to ask for."""
        ...


@runtime_checkable
class Engine(Protocol):
    """Plan -> training data."""

    def generate(self, plan: Action, observation: Observation, *, seed: int) -> list[TrainingDatum]:
        """Write the data the plan asks for."""
        ...
