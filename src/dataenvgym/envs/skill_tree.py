"""Skill-Tree: the state is a forest (skill -> subskills with allocation, accuracy, history);
the action explores (adds subskills) and exploits (re-allocates; 0 prunes)."""

from __future__ import annotations

from collections import Counter, defaultdict

from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import InvalidActionError
from dataenvgym.skills.forest import apply_tree_action
from dataenvgym.types import (
    SkillForest,
    SkillNode,
    SkillTreeAction,
    SkillTreeObservation,
    TrainingDatum,
    subskill_key,
)


class SkillTreeEnv(TeacherEnv[SkillTreeObservation, SkillTreeAction]):
    """The most structured environment: the agent grows and prunes a tree of subskills."""

    action_model = SkillTreeAction
    observation_model = SkillTreeObservation
    env_name = "skill-tree"

    def _on_reset(self) -> None:
        report = self.val_result.report
        self.forest = SkillForest(
            skills={
                s.name: SkillNode(
                    name=s.name,
                    description=s.description,
                    accuracy=report.per_skill[s.name].accuracy,
                    partial=report.per_skill[s.name].partial,
                    history=[report.per_skill[s.name].accuracy],
                )
                for s in self.skills
                if s.name in report.per_skill
            }
        )
        self.pruned: list[str] = []
        self.shortfall: dict[str, int] = {}
        self._pending: SkillForest | None = None

    def _validate(self, action: SkillTreeAction) -> None:
        new_forest, pruned = apply_tree_action(self.forest, action)
        total = new_forest.allocation_total()
        limit = min(self.config.budget_per_iteration, self.budget_left)
        if total > limit:
            raise InvalidActionError(
                f"allocations total {total} data, over this step's budget of {limit}; "
                "lower some allocations (0 prunes a subskill)"
            )
        per_node = Counter(subskill_key(d.skill, d.subskill) for d in action.data)
        for key, count in per_node.items():
            skill, _, name = key.partition("/")
            node = new_forest.skills.get(skill)
            allocation = node.subskills[name].allocation if node and name in node.subskills else 0
            if allocation == 0:
                raise InvalidActionError(f"{count} data for {key}, which is not in the tree")
            if count > allocation:
                raise InvalidActionError(f"{count} data for {key}, allocation is {allocation}")
        self._pending = new_forest
        self._pending_pruned = pruned

    def _apply(self, action: SkillTreeAction, accepted: list[TrainingDatum]) -> None:
        assert self._pending is not None  # set by _validate in the same step
        self.forest, self._pending = self._pending, None
        # A new node's history starts from the student's validation accuracy before this
        # step's training, so that its response to the first data is visible next step.
        report = self.val_result.report
        for skill, proposals in action.explore.items():
            for proposal in proposals:
                stats = report.per_subskill.get(subskill_key(skill, proposal.name))
                if stats is not None:
                    node = self.forest.skills[skill].subskills[proposal.name]
                    node.history, node.partial_history = [stats.accuracy], [stats.partial]
        self.pruned.extend(self._pending_pruned)
        submitted = Counter(subskill_key(d.skill, d.subskill) for d in action.data)
        self.shortfall = {
            subskill_key(skill.name, sub.name): sub.allocation - submitted[key]
            for skill in self.forest.skills.values()
            for sub in skill.subskills.values()
            if sub.allocation > submitted[key := subskill_key(skill.name, sub.name)]
        }

    def _after_evaluation(self, accepted: list[TrainingDatum]) -> None:
        report = self.val_result.report
        by_node: dict[str, list[TrainingDatum]] = defaultdict(list)
        for datum in accepted:
            by_node[subskill_key(datum.skill, datum.subskill)].append(datum)
        nodes = {
            subskill_key(skill.name, sub.name)
            for skill in self.forest.skills.values()
            for sub in skill.subskills.values()
        }
        sampled = self._accuracy_per_node({k: v for k, v in by_node.items() if k in nodes})
        for skill in self.forest.skills.values():
            stats = report.per_skill.get(skill.name)
            if stats is not None:
                skill.accuracy, skill.partial = stats.accuracy, stats.partial
                skill.history.append(stats.accuracy)
            for sub in skill.subskills.values():
                key = subskill_key(skill.name, sub.name)
                data = by_node.get(key, [])
                sub.total_data += len(data)
                if key in sampled:
                    sub.data_accuracy = sampled[key]
                val_stats = report.per_subskill.get(key)
                if val_stats is not None:
                    sub.val_accuracy, sub.val_partial = val_stats.accuracy, val_stats.partial
                latest = sub.val_accuracy if sub.val_accuracy is not None else sub.data_accuracy
                if latest is not None:
                    sub.history.append(latest)
                if sub.val_partial is not None:
                    sub.partial_history.append(sub.val_partial)

    def _accuracy_per_node(self, by_node: dict[str, list[TrainingDatum]]) -> dict[str, float]:
        """The student's accuracy on a sample of each node's new data (the paper's subskill
        signal), keyed like ``by_node``.

        Every node's sample is scored in one evaluation: one call per node decoded a few
        dozen answers at a time, and cost several times as much in all.
        """
        size = self.config.data_accuracy_sample
        samples = {key: data[:size] for key, data in by_node.items() if data and size > 0}
        if not samples:
            return {}
        instances = [d.as_instance() for data in samples.values() for d in data]
        # The report groups by each instance's skill/subskill: the node's own key.
        report = self.evaluator.evaluate(self.student, instances).report
        return {key: report.per_subskill[key].accuracy for key in samples}

    def _observation(self) -> SkillTreeObservation:
        forest = self.forest.model_copy(deep=True)
        # A subskill's validation accuracy is known from the start when the domain labels
        # validation items with it; fill it in for freshly explored nodes.
        for skill in forest.skills.values():
            for sub in skill.subskills.values():
                stats = self.val_result.report.per_subskill.get(subskill_key(skill.name, sub.name))
                if stats is not None and sub.val_accuracy is None:
                    sub.val_accuracy, sub.val_partial = stats.accuracy, stats.partial
        return SkillTreeObservation(**self._base_observation_fields(), forest=forest)
