"""Evaluation: run a student on a split, score with the domain, aggregate per skill."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from dataenvgym.protocols import BatchDomain, Domain, Student
from dataenvgym.types import (
    EvaluatedInstance,
    EvaluationResult,
    SkillReport,
    SkillStats,
    TaskInstance,
    subskill_key,
)


def _stats(items: Sequence[EvaluatedInstance]) -> SkillStats:
    count = len(items)
    if count == 0:
        return SkillStats(count=0, accuracy=0.0, partial=0.0)
    return SkillStats(
        count=count,
        accuracy=sum(e.correct for e in items) / count,
        partial=sum(e.partial for e in items) / count,
    )


def build_report(evaluated: Sequence[EvaluatedInstance]) -> SkillReport:
    """Aggregate scored instances overall, per skill and per ``skill/subskill``."""
    by_skill: dict[str, list[EvaluatedInstance]] = defaultdict(list)
    by_subskill: dict[str, list[EvaluatedInstance]] = defaultdict(list)
    for item in evaluated:
        by_skill[item.instance.skill or "unknown"].append(item)
        if item.instance.subskill is not None:
            by_subskill[subskill_key(item.instance.skill, item.instance.subskill)].append(item)
    overall = _stats(evaluated)
    return SkillReport(
        count=overall.count,
        accuracy=overall.accuracy,
        partial=overall.partial,
        per_skill={k: _stats(v) for k, v in sorted(by_skill.items())},
        per_subskill={k: _stats(v) for k, v in sorted(by_subskill.items())},
    )


class DomainEvaluator:
    """The default :class:`~dataenvgym.protocols.Evaluator`: predict, then the domain scores.

    Args:
        domain: Supplies the scorer.
        on_progress: Optional callback ``(done, total)`` for progress bars.
    """

    def __init__(
        self, domain: Domain, on_progress: Callable[[int, int], None] | None = None
    ) -> None:
        self.domain = domain
        self.on_progress = on_progress

    def evaluate(self, student: Student, instances: Sequence[TaskInstance]) -> EvaluationResult:
        predictions = student.predict(instances)
        if len(predictions) != len(instances):
            raise RuntimeError(
                f"student returned {len(predictions)} answers for {len(instances)} instances"
            )
        if isinstance(self.domain, BatchDomain):  # e.g. code: one sandbox run per chunk
            scores = self.domain.score_many(instances, predictions)
        else:
            scores = [self.domain.score(i, p) for i, p in zip(instances, predictions, strict=True)]
        evaluated = []
        for instance, prediction, score in zip(instances, predictions, scores, strict=True):
            evaluated.append(
                EvaluatedInstance(
                    instance=instance,
                    prediction=prediction,
                    correct=score.correct,
                    partial=score.partial,
                )
            )
        if self.on_progress is not None:
            self.on_progress(len(instances), len(instances))
        return EvaluationResult(instances=evaluated, report=build_report(evaluated))
