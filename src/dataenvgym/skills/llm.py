"""LLM skill discovery: skills inferred from the validation instances themselves.

Four steps, each a batch of concurrent, cached calls:

1. **label** every instance with a free-form skill in a few words (``discovery_batch``
   instances per call);
2. **merge** the labels into at most ``max_skills`` exclusive categories;
3. **assign** every instance: through its label's category, and for instances left unmapped
   (no label, or a label the merge left out) by asking again with the category list, up to
   ``assign_rounds`` times — what is still unmapped goes to an ``other`` skill, counted;
4. **propose subskills** for each skill.

The result is saved as JSON (``save_path``) under a fingerprint of the model and the
instances, and reloaded instead of recomputed when it matches, so a resumed or repeated run
labels nothing twice; the LLM cache replays the calls too.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from dataenvgym.cache import fingerprint
from dataenvgym.errors import DataEnvGymError
from dataenvgym.llm import LLMCallFailed, LLMClient, load_prompt, schema_instructions
from dataenvgym.llm.schema import with_enums
from dataenvgym.types import Skill, TaskInstance

#: The skill that collects instances no round of assignment could place.
OTHER = "other"
_SAMPLES_FOR_SUBSKILLS = 8
# Where known values go in the schemas sent (instance ids, labels, category names).
_LABEL_ID = ("$defs", "InstanceLabel", "properties", "id")
_LABEL_SKILL = ("$defs", "InstanceLabel", "properties", "skill")
_CATEGORY_LABELS = ("$defs", "SkillCategory", "properties", "labels", "items")
#: Counts every discovery reports (zero when nothing happened).
_STAT_KEYS = (
    "labelled",
    "failed_label_calls",
    "merge_fallback",
    "mapped_by_label",
    "reasked_instances",
    "mapped_by_reask",
    "assigned_to_other",
    "failed_subskill_calls",
)


class InstanceLabel(BaseModel):
    """The skill one instance exercises, in a few words."""

    id: str
    skill: str = Field(min_length=1)


class InstanceLabels(BaseModel):
    """Skill discovery, step 1: one label per instance."""

    labels: list[InstanceLabel]


class SkillCategory(BaseModel):
    """A merged skill: its name, description and the labels it covers."""

    name: str = Field(min_length=1)
    description: str = ""
    labels: list[str] = Field(default_factory=list)


class SkillCategories(BaseModel):
    """Skill discovery, step 2: the labels merged into a small exclusive set."""

    categories: list[SkillCategory] = Field(min_length=1)


class InstanceAssignments(BaseModel):
    """Skill discovery, step 3 (re-ask): a category for each instance left unmapped."""

    assignments: list[InstanceLabel]


class DiscoveredSubskill(BaseModel):
    """A subskill of a discovered skill."""

    name: str = Field(min_length=1)
    description: str = ""


class DiscoveredSubskills(BaseModel):
    """Skill discovery, step 4: subskills of one skill."""

    subskills: list[DiscoveredSubskill] = Field(min_length=1)


class DiscoveryResult(BaseModel):
    """What discovery found, as saved to and reloaded from JSON."""

    fingerprint: str
    model: str
    skills: list[Skill]
    assignment: dict[str, str] = Field(description="instance id -> skill name")
    labels: dict[str, str] = Field(default_factory=dict, description="instance id -> label")
    stats: dict[str, Any] = Field(default_factory=dict)


def _name(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")[:48]


def _norm(label: str) -> str:
    return " ".join(label.lower().split())


def _instance_json(instance: TaskInstance) -> str:
    payload = {"id": instance.id, "question": instance.prompt, "answer": instance.answer}
    return "- " + json.dumps(payload, ensure_ascii=False)


class LLMSkillDiscovery:
    """A :class:`~dataenvgym.protocols.SkillDiscovery` that asks an LLM.

    Args:
        client: The LLM client (calls are tagged with role ``skill_discovery``, iteration 0).
        domain: The domain's name, for the prompts.
        max_skills: Most skills after merging.
        batch_size: Instances per labelling and re-assignment call.
        subskills_per_skill: Subskills proposed per skill (0: none).
        assign_rounds: Re-asks for instances left unmapped.
        max_reasks: Re-asks of a malformed structured answer.
        save_path: JSON file the result is saved to and reloaded from.
    """

    role = "skill_discovery"

    def __init__(
        self,
        client: LLMClient,
        domain: str,
        *,
        max_skills: int = 6,
        batch_size: int = 20,
        subskills_per_skill: int = 3,
        assign_rounds: int = 2,
        max_reasks: int = 2,
        save_path: Path | None = None,
    ) -> None:
        self.client = client
        self.domain = domain
        self.max_skills = max_skills
        self.batch_size = batch_size
        self.subskills_per_skill = subskills_per_skill
        self.assign_rounds = assign_rounds
        self.max_reasks = max_reasks
        self.save_path = save_path
        self.result: DiscoveryResult | None = None
        #: Counts of the last discovery (shared with the teacher's usage report).
        self.stats: dict[str, Any] = {}

    # ------------------------------------------------------------------ SkillDiscovery

    def assign(self, instances: Sequence[TaskInstance]) -> list[TaskInstance]:
        """The instances with their discovered skill (gold subskills are cleared)."""
        result = self.run(instances)
        return [
            inst.model_copy(update={"skill": result.assignment[inst.id], "subskill": None})
            for inst in instances
        ]

    def discover(self, instances: Sequence[TaskInstance]) -> list[Skill]:
        """The discovered skills that have at least one of ``instances``."""
        result = self.run(instances)
        present = {result.assignment.get(inst.id) for inst in instances}
        return [skill for skill in result.skills if skill.name in present]

    def skills(self) -> list[Skill]:
        """The skills of the last discovery (empty before the first)."""
        return list(self.result.skills) if self.result is not None else []

    # ------------------------------------------------------------------ the pipeline

    def run(self, instances: Sequence[TaskInstance]) -> DiscoveryResult:
        """Discover (or reload) skills for ``instances``; see the module docstring."""
        key = fingerprint(
            {"model": self.client.config.model, "items": [(i.id, i.prompt) for i in instances]}
        )
        if self.result is not None and self.result.fingerprint == key:
            return self.result
        loaded = self._load(key)
        if loaded is not None:
            self.result = loaded
            self.stats.clear()
            self.stats.update({**loaded.stats, "loaded_from": str(self.save_path)})
            return loaded
        if not instances:
            raise DataEnvGymError("LLM skill discovery needs at least one instance")
        with self.client.iteration(0):
            result = self._discover(instances, key)
        self.result = result
        self.stats.clear()
        self.stats.update(result.stats)
        if self.save_path is not None:
            self.save_path.parent.mkdir(parents=True, exist_ok=True)
            self.save_path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return result

    def _load(self, key: str) -> DiscoveryResult | None:
        if self.save_path is None or not self.save_path.is_file():
            return None
        loaded = DiscoveryResult.model_validate_json(self.save_path.read_text(encoding="utf-8"))
        return loaded if loaded.fingerprint == key else None

    def _discover(self, instances: Sequence[TaskInstance], key: str) -> DiscoveryResult:
        stats: Counter[str] = Counter(dict.fromkeys(_STAT_KEYS, 0))
        labels = self._label(instances, stats)
        categories = self._merge(labels, stats)
        by_label: dict[str, str] = {}
        for category in categories:
            for label in category.labels:
                by_label.setdefault(_norm(label), category.name)  # exclusive: first wins
        assignment = {
            i.id: by_label[_norm(labels[i.id])]
            for i in instances
            if i.id in labels and _norm(labels[i.id]) in by_label
        }
        stats["mapped_by_label"] = len(assignment)
        self._reassign(instances, categories, assignment, stats)
        for inst in instances:
            if inst.id not in assignment:
                assignment[inst.id] = OTHER
                stats["assigned_to_other"] += 1
        names = [c.name for c in categories]
        if stats["assigned_to_other"] and OTHER not in names:
            categories.append(SkillCategory(name=OTHER, description="not placed in any skill"))
        sizes = Counter(assignment.values())
        categories = [c for c in categories if sizes[c.name] > 0]
        skills = self._subskills(instances, categories, assignment, stats)
        stats["skills"] = len(skills)
        return DiscoveryResult(
            fingerprint=key,
            model=self.client.config.model,
            skills=skills,
            assignment=assignment,
            labels=labels,
            stats={**dict(stats), "per_skill": dict(sizes)},
        )

    def _messages(self, template: str, schema: type[BaseModel], **values: Any) -> list[dict]:
        user = load_prompt(template, domain=self.domain, **values)
        return [{"role": "user", "content": user.rstrip() + "\n\n" + schema_instructions(schema)}]

    def _batches(self, instances: Sequence[TaskInstance]) -> list[list[TaskInstance]]:
        size = self.batch_size
        return [list(instances[i : i + size]) for i in range(0, len(instances), size)]

    def _label(self, instances: Sequence[TaskInstance], stats: Counter[str]) -> dict[str, str]:
        batches = self._batches(instances)
        answers = self.client.complete_structured_many(
            [
                self._messages(
                    "skills_label", InstanceLabels, instances="\n".join(map(_instance_json, b))
                )
                for b in batches
            ],
            InstanceLabels,
            role=self.role,
            max_reasks=self.max_reasks,
            # A constrained decoder must answer with the ids it was shown.
            json_schemas=[
                with_enums(InstanceLabels, {_LABEL_ID: [i.id for i in b]}) for b in batches
            ],
        )
        labels: dict[str, str] = {}
        for batch, answer in zip(batches, answers, strict=True):
            if answer is None:
                stats["failed_label_calls"] += 1
                continue
            ids = {i.id for i in batch}
            for item in answer.labels:
                if item.id in ids and item.skill.strip():
                    labels[item.id] = item.skill.strip()
        stats["labelled"] = len(labels)
        return labels

    def _merge(self, labels: dict[str, str], stats: Counter[str]) -> list[SkillCategory]:
        counts = Counter(_norm(label) for label in labels.values())
        if not counts:
            raise DataEnvGymError(
                "LLM skill discovery: the model labelled no instance; check the teacher model"
            )
        listing = "\n".join(
            f"- {json.dumps(label)}: {n}" for label, n in sorted(counts.items(), key=_by_count)
        )
        try:
            answer = self.client.complete_structured(
                self._messages(
                    "skills_merge", SkillCategories, labels=listing, max_skills=self.max_skills
                ),
                SkillCategories,
                role=self.role,
                max_reasks=self.max_reasks,
                json_schema=with_enums(
                    SkillCategories, {_CATEGORY_LABELS: sorted(set(labels.values()))}
                ),
            )
        except LLMCallFailed:  # counted in usage; the fallback below takes over
            answer = None
        categories: dict[str, SkillCategory] = {}
        if answer is not None:
            for category in answer.categories:
                name = _name(category.name)
                if name and name not in categories and len(categories) < self.max_skills:
                    categories[name] = category.model_copy(update={"name": name})
        if not categories:  # the merge failed: the most frequent labels become the skills
            stats["merge_fallback"] += 1
            for label, _ in sorted(counts.items(), key=_by_count)[: self.max_skills]:
                name = _name(label) or f"skill_{len(categories)}"
                categories.setdefault(name, SkillCategory(name=name, description=label))
                categories[name].labels.append(label)
        return list(categories.values())

    def _reassign(
        self,
        instances: Sequence[TaskInstance],
        categories: list[SkillCategory],
        assignment: dict[str, str],
        stats: Counter[str],
    ) -> None:
        names = {c.name for c in categories}
        listing = "\n".join(
            "- " + json.dumps({"name": c.name, "description": c.description}) for c in categories
        )
        for _ in range(self.assign_rounds):
            unmapped = [i for i in instances if i.id not in assignment]
            if not unmapped:
                return
            stats["reasked_instances"] += len(unmapped)
            batches = self._batches(unmapped)
            answers = self.client.complete_structured_many(
                [
                    self._messages(
                        "skills_assign",
                        InstanceAssignments,
                        categories=listing,
                        instances="\n".join(map(_instance_json, b)),
                    )
                    for b in batches
                ],
                InstanceAssignments,
                role=self.role,
                max_reasks=self.max_reasks,
                json_schemas=[
                    with_enums(
                        InstanceAssignments,
                        {_LABEL_ID: [i.id for i in b], _LABEL_SKILL: sorted(names)},
                    )
                    for b in batches
                ],
            )
            for batch, answer in zip(batches, answers, strict=True):
                if answer is None:
                    continue
                ids = {i.id for i in batch}
                for item in answer.assignments:
                    name = _name(item.skill)
                    if item.id in ids and name in names and item.id not in assignment:
                        assignment[item.id] = name
                        stats["mapped_by_reask"] += 1

    def _subskills(
        self,
        instances: Sequence[TaskInstance],
        categories: list[SkillCategory],
        assignment: dict[str, str],
        stats: Counter[str],
    ) -> list[Skill]:
        if self.subskills_per_skill == 0:
            return [Skill(name=c.name, description=c.description) for c in categories]
        batch = []
        for category in categories:
            members = [i for i in instances if assignment[i.id] == category.name]
            step = max(1, len(members) // _SAMPLES_FOR_SUBSKILLS)
            sample = members[::step][:_SAMPLES_FOR_SUBSKILLS]
            batch.append(
                self._messages(
                    "skills_subskills",
                    DiscoveredSubskills,
                    skill=json.dumps({"name": category.name, "description": category.description}),
                    instances="\n".join(map(_instance_json, sample)),
                    count=self.subskills_per_skill,
                )
            )
        answers = self.client.complete_structured_many(
            batch, DiscoveredSubskills, role=self.role, max_reasks=self.max_reasks
        )
        skills = []
        for category, answer in zip(categories, answers, strict=True):
            subskills: dict[str, str] = {}
            if answer is None:
                stats["failed_subskill_calls"] += 1
            else:
                for sub in answer.subskills[: self.subskills_per_skill]:
                    name = _name(sub.name)
                    if name:
                        subskills.setdefault(name, sub.description)
            skills.append(
                Skill(name=category.name, description=category.description, subskills=subskills)
            )
        return skills


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
