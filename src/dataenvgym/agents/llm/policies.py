"""LLM policies for the three environments, and the Skill-Tree subskill proposer.

Each policy renders its environment's state into its prompt template, asks for a small
pydantic plan, and turns the answer into a valid action: counts are scaled to the step's
budget, unknown skills and subskills are ignored, and when the model's answer is unusable
(after retries and re-asks) a simple rule stands in — counted in ``policy_fallbacks`` and
written in the action's notes, never a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from dataenvgym.agents.llm import render
from dataenvgym.agents.llm.schemas import (
    OpenEndedPlan,
    SkillAllocation,
    SkillHypotheses,
    SubskillProposals,
    TreeDecision,
)
from dataenvgym.agents.llm.teacher import LLMTeacher, call_seed
from dataenvgym.llm import LLMCallFailed, load_prompt
from dataenvgym.llm.schema import with_enums
from dataenvgym.skills.forest import apply_tree_action
from dataenvgym.types import (
    Action,
    DataSpec,
    NewSubskill,
    Observation,
    OpenEndedAction,
    OpenEndedObservation,
    Skill,
    SkillListAction,
    SkillListObservation,
    SkillNode,
    SkillRequest,
    SkillTreeAction,
    SkillTreeObservation,
)

M = TypeVar("M", bound=BaseModel)
# Where the known names go in the schemas sent (a constrained decoder then picks one).
_SHARE_SKILL = ("$defs", "SkillShare", "properties", "skill")
_EXPLORE_SKILL = ("$defs", "ExploreRequest", "properties", "skill")
_EXPLOIT_SKILL = ("$defs", "AllocationChange", "properties", "skill")
_EXPLOIT_SUBSKILL = ("$defs", "AllocationChange", "properties", "subskill")
#: The skills a policy knows: fixed (gold) or read when needed (LLM-discovered at reset).
Catalogue = Sequence[Skill] | Callable[[], Sequence[Skill]]


def scale_to_budget(weights: Mapping[str, float], budget: int) -> dict[str, int]:
    """Integer counts proportional to ``weights`` that sum to ``budget`` (largest remainder).

    All-zero weights share the budget equally; insertion order breaks ties.
    """
    if not weights or budget <= 0:
        return dict.fromkeys(weights, 0)
    clean = {k: max(0.0, float(w)) for k, w in weights.items()}
    total = sum(clean.values())
    if total == 0:
        clean = dict.fromkeys(clean, 1.0)
        total = float(len(clean))
    exact = {k: budget * w / total for k, w in clean.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = budget - sum(counts.values())
    for key in sorted(exact, key=lambda k: counts[k] - exact[k])[:left]:
        counts[key] += 1
    return counts


def snake(name: str) -> str:
    """A subskill or skill name as short snake_case (what the prompts ask for)."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_")
    return text[:48] or "unnamed"


class _LLMPolicy:
    """Shared parts: the teacher, the catalogue, messages and one structured call."""

    role = "policy"

    def __init__(self, teacher: LLMTeacher, domain: str, catalogue: Catalogue = ()) -> None:
        self.teacher = teacher
        self.domain = domain
        self._catalogue = catalogue

    @property
    def catalogue(self) -> list[Skill]:
        source = self._catalogue
        return list(source() if callable(source) else source)

    def reset(self, seed: int | None = None) -> None:
        """The LLM policies keep no state across steps: the observation carries history.
        The run's seed becomes their calls' sampling seed (as the engine's already does)."""
        self._seed = seed

    def _messages(self, template: str, schema: type[BaseModel], **values: Any) -> list[dict]:
        user = load_prompt(
            template, domain=self.domain, domain_brief=render.domain_brief(self.domain), **values
        )
        return [
            {"role": "system", "content": load_prompt("system_teacher").strip()},
            {"role": "user", "content": user.rstrip() + "\n\n" + render.schema_note(schema)},
        ]

    def _ask(
        self, messages: list[dict], schema: type[M], json_schema: dict[str, Any] | None = None
    ) -> M | None:
        """The validated answer, or None when it never came (already counted in usage)."""
        try:
            run_seed = getattr(self, "_seed", None)
            seed = self.teacher.client.config.seed if run_seed is None else call_seed(run_seed)
            return self.teacher.client.complete_structured(
                messages,
                schema,
                role=self.role,
                max_reasks=self.teacher.options.max_reasks,
                json_schema=json_schema,
                seed=seed,
            )
        except LLMCallFailed:  # transient faults outlasted the retries: fall back, go on
            return None

    def _decided(self) -> None:
        """Count a policy decision the model's answer made (for the teacher's health)."""
        self.teacher.record_decision(getattr(self, "_iteration", 0))

    def _fallback(self, name: str, *, decision: bool = True) -> str:
        """Count a decision a rule made instead of the model (``decision=False``: a rule
        completing a decision already counted)."""
        if decision:
            self.teacher.record_decision(getattr(self, "_iteration", 0), fallback=name)
        else:
            self.teacher.policy_fallbacks[name] += 1
        return f"fallback ({name}): the model's answer was unusable"

    def _common(self, observation: Observation) -> dict[str, Any]:
        self._iteration = observation.iteration + 1
        self.teacher.client.set_iteration(observation.iteration + 1)
        return {
            "iteration": observation.iteration,
            "accuracy": f"{observation.val_accuracy:.3f}",
            "partial": f"{observation.val_partial:.3f}",
            "rewards": render.rewards(observation.reward_history),
            "budget": observation.budget_per_iteration,
            "budget_left": observation.budget_left,
        }


# --------------------------------------------------------------------------- Open-Ended


class OpenEndedLLMPolicy(_LLMPolicy):
    """Reads the student's errors and answers with data specs (what to write, how much)."""

    def plan(self, observation: Observation) -> Action:
        if not isinstance(observation, OpenEndedObservation):
            raise TypeError(f"OpenEndedLLMPolicy reads OpenEndedObservation, got {observation}")
        opts = self.teacher.options
        errors = [e for e in observation.evaluated if not e.correct]
        shown = render.spread(errors, opts.max_errors_shown)
        successes = render.spread([e for e in observation.evaluated if e.correct], 6)
        messages = self._messages(
            "policy_open_ended",
            OpenEndedPlan,
            **self._common(observation),
            num_evaluated=len(observation.evaluated),
            num_errors=len(shown),
            total_errors=len(errors),
            errors=render.lines(render.instance_line(e) for e in shown),
            successes=render.lines(render.instance_line(e) for e in successes),
            max_specs=opts.max_specs,
        )
        answer = self._ask(messages, OpenEndedPlan)
        budget = observation.budget_per_iteration
        if answer is None:
            # Stand-in: more questions like each error shown, evenly.
            counts = scale_to_budget({str(i): 1 for i in range(len(shown))}, budget)
            specs = [
                DataSpec(
                    description="more questions like this one, which the student got wrong",
                    count=counts[str(i)],
                    skill=e.instance.skill,
                    example_prompt=e.instance.prompt,
                    example_answer=e.instance.answer,
                )
                for i, e in enumerate(shown)
                if counts[str(i)]
            ]
            return OpenEndedAction(specs=specs, notes=self._fallback("open_ended_plan"))
        self._decided()
        proposals = answer.specs[: opts.max_specs]
        counts = scale_to_budget({str(i): p.weight for i, p in enumerate(proposals)}, budget)
        specs = [
            DataSpec(
                description=p.description,
                count=counts[str(i)],
                example_prompt=p.example_prompt,
                example_answer=p.example_answer,
            )
            for i, p in enumerate(proposals)
            if counts[str(i)]
        ]
        return OpenEndedAction(specs=specs, notes=answer.analysis)


# --------------------------------------------------------------------------- Skill-List


class SkillListLLMPolicy(_LLMPolicy):
    """Splits the budget over skills, then per skill hypothesises what the student lacks."""

    def plan(self, observation: Observation) -> Action:
        if not isinstance(observation, SkillListObservation):
            raise TypeError(f"SkillListLLMPolicy reads SkillListObservation, got {observation}")
        opts = self.teacher.options
        common = self._common(observation)
        skills = observation.skills
        table = render.lines(
            render.dumps(
                {
                    "skill": s.name,
                    "description": s.description,
                    "val_accuracy": render.r3(s.accuracy),
                    "val_partial_credit": render.r3(s.partial),
                    "history": [render.r3(h) for h in s.history],
                    "data_so_far": s.data_so_far,
                    "errors_seen": len(s.errors),
                }
            )
            for s in skills.values()
        )
        answer = self._ask(
            self._messages("policy_skill_list", SkillAllocation, **common, skills=table),
            SkillAllocation,
            with_enums(SkillAllocation, {_SHARE_SKILL: list(skills)}),
        )
        notes = answer.analysis if answer is not None else ""
        weights = {name: 0 for name in skills}
        if answer is not None:
            for share in answer.allocations:
                if share.skill in weights:
                    weights[share.skill] += share.count
        if answer is None or not any(weights.values()):
            notes = self._fallback("skill_list_allocation")
            weights = {name: 1 for name in skills}  # uniform
        else:
            self._decided()
        counts = scale_to_budget(weights, observation.budget_per_iteration)
        funded = [name for name, n in counts.items() if n > 0]

        batch = [
            self._messages(
                "policy_skill_hypotheses",
                SkillHypotheses,
                skill=render.dumps(
                    {
                        "skill": name,
                        "description": skills[name].description,
                        "known_subskills": skills[name].subskills,
                        "val_accuracy": render.r3(skills[name].accuracy),
                    }
                ),
                errors=render.lines(
                    render.instance_line(e)
                    for e in render.spread(skills[name].errors, opts.max_errors_shown)
                ),
                max_hypotheses=opts.max_hypotheses,
            )
            for name in funded
        ]
        answers = self.teacher.client.complete_structured_many(
            batch, SkillHypotheses, role=self.role, max_reasks=opts.max_reasks
        )
        requests: dict[str, SkillRequest] = {}
        for name, hyp in zip(funded, answers, strict=True):
            targets: list[str] = []
            if hyp is None:
                self._fallback("skill_list_hypotheses")
            else:
                self._decided()
                targets = [
                    f"{h.weakness.strip()} -> {h.data.strip()}"
                    for h in hyp.hypotheses[: opts.max_hypotheses]
                ]
            requests[name] = SkillRequest(count=counts[name], targets=targets)
        return SkillListAction(requests=requests, notes=notes)


# --------------------------------------------------------------------------- Skill-Tree


class SubskillProposer:
    """Names new subskills under a skill of the Skill-Tree (one LLM call per skill)."""

    role = "policy"

    def __init__(self, policy: _LLMPolicy) -> None:
        self.policy = policy

    def propose(self, requests: Sequence[tuple[SkillNode, int]]) -> list[list[NewSubskill]]:
        """New subskills (allocation 0; the caller sets it) for each (skill node, how many).

        Names are snake_cased, deduplicated and never an existing subskill's name. Where the
        model's answer is unusable (counted as a fallback), the domain's known subskills of
        the skill stand in, else the skill itself as one subskill: never an empty proposal,
        so a tree always has something to ask the engine for.
        """
        known = {s.name: s for s in self.policy.catalogue}
        batch = []
        for node, count in requests:
            hints = (
                sorted(set(known[node.name].subskills) - set(node.subskills))
                if (node.name in known)
                else []
            )
            batch.append(
                self.policy._messages(
                    "subskill_proposer",
                    SubskillProposals,
                    count=count,
                    skill=render.dumps(
                        {
                            "skill": node.name,
                            "description": node.description,
                            "val_accuracy": render.r3(node.accuracy),
                        }
                    ),
                    existing=render.dumps(sorted(node.subskills)),
                    known=render.dumps(hints),
                )
            )
        client = self.policy.teacher.client
        answers = client.complete_structured_many(
            batch,
            SubskillProposals,
            role=self.role,
            max_reasks=self.policy.teacher.options.max_reasks,
        )
        out: list[list[NewSubskill]] = []
        for (node, count), answer in zip(requests, answers, strict=True):
            if answer is None:
                self.policy._fallback("subskill_proposals")
                out.append(_stand_in_subskills(node, known.get(node.name), count))
                continue
            self.policy._decided()
            taken: dict[str, NewSubskill] = {}
            for proposal in answer.subskills:
                name = snake(proposal.name)
                if name in node.subskills or name in taken:
                    continue
                taken[name] = NewSubskill(name=name, description=proposal.description, allocation=0)
                if len(taken) == count:
                    break
            out.append(
                list(taken.values()) or _stand_in_subskills(node, known.get(node.name), count)
            )
        return out


def _stand_in_subskills(node: SkillNode, known: Skill | None, count: int) -> list[NewSubskill]:
    """Subskills without the model: the domain's known ones the node lacks, else the skill
    itself as one subskill (numbered if that name is taken)."""
    if known is not None:
        missing = [name for name in known.subskills if name not in node.subskills][:count]
        if missing:
            return [
                NewSubskill(name=n, description=known.subskills[n], allocation=0) for n in missing
            ]
    name, k = snake(node.name), 2
    while name in node.subskills:
        name, k = f"{snake(node.name)}_{k}", k + 1
    return [NewSubskill(name=name, description=node.description or node.name, allocation=0)]


class SkillTreeLLMPolicy(_LLMPolicy):
    """Chooses explore (new subskills, named by the proposer) and/or exploit (re-allocate)."""

    def __init__(self, teacher: LLMTeacher, domain: str, catalogue: Catalogue = ()) -> None:
        super().__init__(teacher, domain, catalogue)
        self.proposer = SubskillProposer(self)

    def plan(self, observation: Observation) -> Action:
        if not isinstance(observation, SkillTreeObservation):
            raise TypeError(f"SkillTreeLLMPolicy reads SkillTreeObservation, got {observation}")
        forest = observation.forest
        budget = observation.budget_per_iteration
        decision = self._ask(
            self._messages(
                "policy_skill_tree",
                TreeDecision,
                **self._common(observation),
                allocated=forest.allocation_total(),
                forest=forest_or_none(observation),
                catalogue=render.catalogue_json(self.catalogue),
            ),
            TreeDecision,
            with_enums(
                TreeDecision,
                {
                    _EXPLORE_SKILL: list(forest.skills),
                    _EXPLOIT_SKILL: [n for n, node in forest.skills.items() if node.subskills],
                    _EXPLOIT_SUBSKILL: [
                        s for node in forest.skills.values() for s in node.subskills
                    ],
                },
            ),
        )
        # Without a usable decision the tree keeps its allocations (counted as a fallback).
        if decision is not None:
            self._decided()
        notes = decision.analysis if decision is not None else self._fallback("skill_tree_decision")
        explore_wanted: dict[str, tuple[int, int]] = {}
        exploit: dict[str, dict[str, int]] = {}
        if decision is not None:
            cap = self.teacher.options.max_new_subskills
            for request in decision.explore:
                if request.skill in forest.skills and request.skill not in explore_wanted:
                    explore_wanted[request.skill] = (
                        min(request.num_subskills, cap),
                        request.allocation,
                    )
            for change in decision.exploit:
                node = forest.skills.get(change.skill)
                if node is not None and change.subskill in node.subskills:
                    exploit.setdefault(change.skill, {})[change.subskill] = change.allocation
        empty_tree = not any(node.subskills for node in forest.skills.values())
        if empty_tree and not explore_wanted:
            # Nothing to exploit yet: grow every skill a little, sharing the budget evenly.
            notes = self._fallback("skill_tree_empty_tree", decision=False)
            per_skill = max(1, budget // max(1, 2 * len(forest.skills)))
            explore_wanted = {name: (2, per_skill) for name in forest.skills}

        explore: dict[str, list[NewSubskill]] = {}
        if explore_wanted:
            names = list(explore_wanted)
            proposals = self.proposer.propose(
                [(forest.skills[n], explore_wanted[n][0]) for n in names]
            )
            for name, new in zip(names, proposals, strict=True):
                allocation = explore_wanted[name][1]
                if new:
                    explore[name] = [n.model_copy(update={"allocation": allocation}) for n in new]
        action = SkillTreeAction(explore=explore, exploit=exploit, notes=notes)
        return _fit_budget(action, observation, budget)


def forest_or_none(observation: SkillTreeObservation) -> str:
    """The forest as JSON lines, with a note when no subskill has been explored yet."""
    text = render.forest_json(observation.forest)
    if not any(node.subskills for node in observation.forest.skills.values()):
        text += "\n(no subskills yet: explore first)"
    return text


def _fit_budget(
    action: SkillTreeAction, observation: SkillTreeObservation, budget: int
) -> SkillTreeAction:
    """Scale every allocation down when the tree after ``action`` would exceed ``budget``.

    New subskills scaled to 0 are not added; existing ones scaled to 0 are pruned.
    """
    forest, _ = apply_tree_action(observation.forest, action)
    total = forest.allocation_total()
    if total <= budget:
        return action
    weights = {
        f"{skill.name}/{sub.name}": float(sub.allocation)
        for skill in forest.skills.values()
        for sub in skill.subskills.values()
    }
    counts = scale_to_budget(weights, budget)
    explore: dict[str, list[NewSubskill]] = {}
    for skill, new in action.explore.items():
        kept = [
            n.model_copy(update={"allocation": counts[f"{skill}/{n.name}"]})
            for n in new
            if counts[f"{skill}/{n.name}"] > 0
        ]
        if kept:
            explore[skill] = kept
    exploit: dict[str, dict[str, int]] = {}
    for node in observation.forest.skills.values():
        for sub in node.subskills.values():
            key = f"{node.name}/{sub.name}"
            if key in counts and counts[key] != sub.allocation:
                exploit.setdefault(node.name, {})[sub.name] = counts[key]
            elif key not in counts:  # pruned by the action itself
                exploit.setdefault(node.name, {})[sub.name] = 0
    note = f"{action.notes} [allocations scaled from {total} to the budget {budget}]".strip()
    return SkillTreeAction(explore=explore, exploit=exploit, notes=note)
