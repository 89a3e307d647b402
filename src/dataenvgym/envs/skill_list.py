"""Skill-List: the state is per-skill accuracy (with history and errors); the action asks
for a number of data per skill and says what to target."""

from __future__ import annotations

from collections import Counter

from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import InvalidActionError
from dataenvgym.types import SkillListAction, SkillListObservation, SkillState, TrainingDatum


class SkillListEnv(TeacherEnv[SkillListObservation, SkillListAction]):
    """Middle structure: a flat list of skills with their validation accuracy."""

    action_model = SkillListAction
    observation_model = SkillListObservation
    env_name = "skill-list"

    def _on_reset(self) -> None:
        self.history: dict[str, list[float]] = {s.name: [] for s in self.skills}
        self.data_so_far: Counter[str] = Counter()
        self._record_history()

    def _record_history(self) -> None:
        for name, stats in self.val_result.report.per_skill.items():
            self.history.setdefault(name, []).append(stats.accuracy)

    def _validate(self, action: SkillListAction) -> None:
        known = {s.name for s in self.skills}
        unknown = sorted(set(action.requests) - known)
        if unknown:
            raise InvalidActionError(f"unknown skills {unknown}; known: {sorted(known)}")
        requested = sum(r.count for r in action.requests.values())
        limit = min(self.config.budget_per_iteration, self.budget_left)
        if requested > limit:
            raise InvalidActionError(f"requests total {requested} data, over the budget {limit}")
        per_skill = Counter(d.skill for d in action.data)
        for skill, count in per_skill.items():
            allowed = action.requests[skill].count if skill in action.requests else 0
            if count > allowed:
                raise InvalidActionError(
                    f"{count} data for skill {skill!r}, but the plan requested {allowed}"
                )

    def _apply(self, action: SkillListAction, accepted: list[TrainingDatum]) -> None:
        self.data_so_far.update(d.skill or "unknown" for d in accepted)

    def _after_evaluation(self, accepted: list[TrainingDatum]) -> None:
        self._record_history()

    def _observation(self) -> SkillListObservation:
        errors = self._errors_by_skill()
        report = self.val_result.report
        skills = {
            s.name: SkillState(
                name=s.name,
                description=s.description,
                subskills=list(s.subskills),
                accuracy=report.per_skill[s.name].accuracy,
                partial=report.per_skill[s.name].partial,
                count=report.per_skill[s.name].count,
                history=list(self.history[s.name]),
                errors=errors.get(s.name, []),
                data_so_far=self.data_so_far[s.name],
            )
            for s in self.skills
            if s.name in report.per_skill
        }
        return SkillListObservation(**self._base_observation_fields(), skills=skills)
