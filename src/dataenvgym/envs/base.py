"""The teacher environment core shared by Open-Ended, Skill-List and Skill-Tree.

A step validates the whole action before anything changes, filters the generated data
(duplicates, contamination, failed verification), lets the subclass apply its plan, trains
the student, evaluates it on validation and returns ``reward = Δ validation accuracy``.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from collections import Counter
from typing import Any, ClassVar, Generic, TypeVar

import gymnasium as gym
from pydantic import BaseModel, Field, ValidationError

from dataenvgym.envs.spaces import ModelSpace
from dataenvgym.errors import InvalidActionError
from dataenvgym.evaluation import DomainEvaluator
from dataenvgym.protocols import (
    BatchDomain,
    Domain,
    Evaluator,
    SkillDiscovery,
    Student,
    StudentFactory,
    Trainer,
)
from dataenvgym.skills.gold import GoldSkillDiscovery
from dataenvgym.types import (
    ActionBase,
    DroppedCounts,
    EvaluationResult,
    ObservationBase,
    Skill,
    TrainingDatum,
    TrainStats,
    subskill_key,
)

ActT = TypeVar("ActT", bound=ActionBase)
ObsT = TypeVar("ObsT", bound=ObservationBase)


class EnvConfig(BaseModel):
    """Budgets and observation sizes of a teacher environment."""

    budget_per_iteration: int = Field(default=384, ge=1, description="Data per step, at most.")
    max_iterations: int = Field(default=5, ge=1, description="Steps before truncation.")
    total_budget: int | None = Field(
        default=None, description="Data per episode; default budget_per_iteration × iterations."
    )
    errors_per_skill: int = Field(default=16, ge=0, description="Errors shown per skill.")
    data_accuracy_sample: int = Field(
        default=64, ge=0, description="Generated data re-scored per subskill (Skill-Tree)."
    )

    @property
    def episode_budget(self) -> int:
        return self.total_budget or self.budget_per_iteration * self.max_iterations


class TeacherEnv(gym.Env[ObsT, ActT], Generic[ObsT, ActT]):
    """Base class of the three teacher environments.

    Args:
        domain: The task family (format, scorer, splits).
        student_factory: Builds or loads the base student on ``reset``.
        trainer: Updates the student after each step.
        evaluator: Scores the student; defaults to the domain's scorer.
        skill_discovery: Labels validation items with skills; defaults to gold skills.
        config: Budgets and observation sizes.
    """

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 - Gymnasium declares it so
    action_model: ClassVar[type[ActionBase]]
    observation_model: ClassVar[type[ObservationBase]]
    env_name: ClassVar[str]

    def __init__(
        self,
        domain: Domain,
        student_factory: StudentFactory,
        trainer: Trainer,
        *,
        evaluator: Evaluator | None = None,
        skill_discovery: SkillDiscovery | None = None,
        config: EnvConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.domain = domain
        self.student_factory = student_factory
        self.trainer = trainer
        self.evaluator = evaluator or DomainEvaluator(domain)
        self.skill_discovery = skill_discovery or GoldSkillDiscovery(domain)
        self.config = config or EnvConfig()
        self.render_mode = render_mode
        self.action_space = ModelSpace(self.action_model)  # type: ignore[arg-type]
        self.observation_space = ModelSpace(self.observation_model)  # type: ignore[arg-type]
        self._student: Student | None = None

    # ------------------------------------------------------------------ gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, dict[str, Any]]:
        """Build (or load) the base student, evaluate it on validation, return the state."""
        super().reset(seed=seed)
        self.seed_value = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        val, test = self.domain.splits(self.seed_value)
        self.validation = self.skill_discovery.assign(val)
        self.test = test
        self.skills: list[Skill] = self.skill_discovery.discover(self.validation)
        self._eval_prompts = {inst.prompt for inst in [*self.validation, *self.test]}
        self.base = self.student_factory.base_student(
            self.domain, seed=self.seed_value, exclude_prompts=self._eval_prompts
        )
        self._student = self.base.student
        self.val_result = self.evaluator.evaluate(self._student, self.validation)
        self.iteration = 0
        self.budget_left = self.config.episode_budget
        self.accumulated: list[TrainingDatum] = []
        self._seen_prompts: set[str] = set()
        self.reward_history: list[float] = []
        self._on_reset()
        return self._observation(), self._info(new_data=[], dropped=DroppedCounts(), train=None)

    def step(self, action: ActT | dict[str, Any]) -> tuple[ObsT, float, bool, bool, dict[str, Any]]:
        """Validate and apply ``action``, train, evaluate; see the class docstring."""
        if self._student is None:
            raise RuntimeError("call reset() before step()")
        if self.iteration >= self.config.max_iterations or self.budget_left <= 0:
            raise RuntimeError("the episode is over; call reset() to start a new one")
        parsed = self._parse(action)
        self._check_data(parsed)
        self._validate(parsed)  # raises InvalidActionError; nothing has changed yet

        self.iteration += 1
        self.budget_left -= len(parsed.data)
        new_data, dropped = self._filter(parsed.data)
        self._apply(parsed, new_data)
        self.accumulated.extend(new_data)
        train_stats = self.trainer.train(
            self._student,
            new_data,
            self.accumulated,
            base=self.base,
            iteration=self.iteration,
            seed=self.seed_value,
        )
        previous = self.val_result.report.accuracy
        self.val_result = self.evaluator.evaluate(self._student, self.validation)
        reward = self.val_result.report.accuracy - previous
        self.reward_history.append(reward)
        self._after_evaluation(new_data)
        terminated = self.budget_left <= 0
        truncated = self.iteration >= self.config.max_iterations
        info = self._info(new_data=new_data, dropped=dropped, train=train_stats)
        return self._observation(), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._student is None:
            return None
        lines = [f"iteration {self.iteration}  val acc {self.val_result.report.accuracy:.3f}"]
        for key, stats in self.val_result.report.per_subskill.items():
            lines.append(f"  {key:40s} {stats.accuracy:.3f}  (n={stats.count})")
        return "\n".join(lines)

    # ------------------------------------------------------------------ for the runner

    @property
    def student(self) -> Student:
        """The current student (for checkpoints; agents must not use it)."""
        if self._student is None:
            raise RuntimeError("call reset() first")
        return self._student

    def evaluate_test(self) -> EvaluationResult:
        """Score the student on the held-out test split. Never part of an observation."""
        return self.evaluator.evaluate(self.student, self.test)

    # ------------------------------------------------------------------ validation

    def _parse(self, action: Any) -> ActT:
        if isinstance(action, dict):
            try:
                action = self.action_model.model_validate(action)
            except ValidationError as err:
                raise InvalidActionError(f"malformed {self.action_model.__name__}: {err}") from err
        if not isinstance(action, self.action_model):
            raise InvalidActionError(
                f"{type(self).__name__} takes a {self.action_model.__name__}, "
                f"got {type(action).__name__}"
            )
        return action  # type: ignore[return-value]

    def _check_data(self, action: ActionBase) -> None:
        for datum in action.data:
            if not isinstance(datum, TrainingDatum):
                raise InvalidActionError(f"malformed datum: {datum!r} is not a TrainingDatum")
            if datum.domain != self.domain.name:
                raise InvalidActionError(
                    f"datum {datum.id} is from domain {datum.domain!r}, "
                    f"this environment's domain is {self.domain.name!r}"
                )
        limit = min(self.config.budget_per_iteration, self.budget_left)
        if len(action.data) > limit:
            raise InvalidActionError(
                f"{len(action.data)} data exceed this step's budget of {limit} "
                f"(per iteration {self.config.budget_per_iteration}, left {self.budget_left})"
            )

    def _filter(self, data: list[TrainingDatum]) -> tuple[list[TrainingDatum], DroppedCounts]:
        """Drop failed verification, copies of evaluation prompts and duplicates; tag the rest."""
        dropped = Counter[str]()
        kept: list[TrainingDatum] = []
        if isinstance(self.domain, BatchDomain):  # e.g. code: verified in a few sandbox runs
            verdicts = self.domain.verify_many(data)
        else:
            verdicts = [self.domain.verify(datum) for datum in data]
        for datum, verdict in zip(data, verdicts, strict=True):
            if verdict is not None:
                dropped["failed_verification"] += 1
            elif datum.prompt in self._eval_prompts:
                dropped["contaminated"] += 1
            elif datum.prompt in self._seen_prompts:
                dropped["duplicate"] += 1
            else:
                self._seen_prompts.add(datum.prompt)
                kept.append(datum.model_copy(update={"iteration": self.iteration}))
        return kept, DroppedCounts(**dropped)

    # ------------------------------------------------------------------ info

    def _info(
        self, *, new_data: list[TrainingDatum], dropped: DroppedCounts, train: TrainStats | None
    ) -> dict[str, Any]:
        report = self.val_result.report
        per_subskill_data = Counter(subskill_key(d.skill, d.subskill) for d in new_data)
        return {
            "iteration": self.iteration,
            "val_accuracy": report.accuracy,
            "val_partial": report.partial,
            "per_skill": {k: v.accuracy for k, v in report.per_skill.items()},
            "per_subskill": {k: v.accuracy for k, v in report.per_subskill.items()},
            "num_new_data": len(new_data),
            "num_total_data": len(self.accumulated),
            "data_per_subskill": dict(sorted(per_subskill_data.items())),
            "dropped": {**dropped.model_dump(), "total": dropped.total},
            "budget_left": self.budget_left,
            "train": train.model_dump() if train is not None else None,
        }

    def _base_observation_fields(self) -> dict[str, Any]:
        report = self.val_result.report
        return {
            "iteration": self.iteration,
            "budget_per_iteration": min(self.config.budget_per_iteration, self.budget_left),
            "budget_left": self.budget_left,
            "val_accuracy": report.accuracy,
            "val_partial": report.partial,
            "reward_history": list(self.reward_history),
        }

    def _errors_by_skill(self) -> dict[str, list[Any]]:
        """Up to ``errors_per_skill`` errors per skill, drawn at random from all its errors.

        A random (seeded) draw, not the first ones: validation is ordered by subskill, so the
        first errors of a skill all come from one or two subskills, and a teacher reading
        them would never see where the rest of the skill fails.
        """
        by_skill: dict[str, list[Any]] = {}
        for item in self.val_result.instances:
            if not item.correct:
                by_skill.setdefault(item.instance.skill or "unknown", []).append(item)
        rng = random.Random(f"errors:{self.seed_value}:{self.iteration}")
        errors: dict[str, list[Any]] = {}
        for skill, items in by_skill.items():
            shown = min(len(items), self.config.errors_per_skill)
            keep = sorted(rng.sample(range(len(items)), shown))
            errors[skill] = [items[i] for i in keep]
        return errors

    # ------------------------------------------------------------------ subclass hooks

    def _on_reset(self) -> None:
        """Initialise the environment-specific state."""

    @abstractmethod
    def _validate(self, action: ActT) -> None:
        """Raise :class:`InvalidActionError` if ``action`` does not fit the current state."""

    def _apply(self, action: ActT, accepted: list[TrainingDatum]) -> None:
        """Apply the plan part of the action to the state (before training)."""

    def _after_evaluation(self, accepted: list[TrainingDatum]) -> None:
        """Update the state with the new evaluation (after training)."""

    @abstractmethod
    def _observation(self) -> ObsT:
        """The observation an agent sees now."""
