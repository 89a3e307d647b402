"""The LLM data generation engine: plan -> targets -> verified training data.

Every plan becomes a list of *targets* (what to practise, how many examples): Open-Ended
specs, Skill-List requests split over their hypotheses, Skill-Tree subskills with their
allocations. Each target is asked of the model in calls of ``items_per_call`` examples, all
calls of a round concurrently. Every example is checked before it is kept: malformed ones,
ones the domain's verifier rejects (arithmetic recomputes the answer), copies of questions
the engine was shown and repeats are dropped and counted. Targets left short are topped up
in further rounds (up to ``max_topups``) that list what was already written, so a target
ends with exactly its count unless the model keeps failing — then the shortfall is counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dataenvgym.agents.llm.render import domain_brief, dumps, instance_line, lines, schema_note
from dataenvgym.agents.llm.schemas import GeneratedItems
from dataenvgym.agents.llm.teacher import LLMTeacher, call_seed
from dataenvgym.llm import LLMCallFailed, load_prompt
from dataenvgym.llm.batch import map_in_order
from dataenvgym.llm.schema import with_keywords
from dataenvgym.protocols import Domain
from dataenvgym.skills.forest import apply_tree_action
from dataenvgym.types import (
    Action,
    EvaluatedInstance,
    Observation,
    OpenEndedAction,
    OpenEndedObservation,
    Skill,
    SkillListAction,
    SkillListObservation,
    SkillTreeAction,
    SkillTreeObservation,
    TaskInstance,
    TrainingDatum,
)

#: Already-written questions listed in a top-up request (enough to steer, short enough).
_AVOID_SHOWN = 30
#: An engine call that failed after its retries (as opposed to None: no valid object).
_FAILED = object()


@dataclass
class Target:
    """What one group of examples should practise.

    Attributes:
        skill: Skill written on the data (None for free-form Open-Ended specs).
        subskill: Subskill written on the data, when the target is one.
        description: What to practise, given to the model.
        count: Examples wanted.
        examples: Student errors shown for format and difficulty.
        kept: Examples accepted so far.
    """

    skill: str | None
    subskill: str | None
    description: str
    count: int
    examples: list[EvaluatedInstance] = field(default_factory=list)
    kept: list[TrainingDatum] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.count - len(self.kept)

    def as_json(self) -> str:
        return dumps({"skill": self.skill, "subskill": self.subskill, "practise": self.description})


def _split(count: int, parts: int) -> list[int]:
    """``count`` split into ``parts`` near-equal positive sizes (fewer parts if count < parts)."""
    parts = max(1, min(parts, count))
    base, extra = divmod(count, parts)
    return [base + (i < extra) for i in range(parts)]


class LLMEngine:
    """An :class:`~dataenvgym.protocols.Engine` that asks an LLM for the data of any plan.

    Args:
        teacher: The shared client, options and ledgers.
        domain: Whose format the data is in and whose verifier checks it.
        catalogue: Known skills (descriptions for targets that name only a skill or subskill).
    """

    def __init__(
        self,
        teacher: LLMTeacher,
        domain: Domain,
        catalogue: Sequence[Skill] | Callable[[], Sequence[Skill]] = (),
    ) -> None:
        self.teacher = teacher
        self.domain = domain
        self._catalogue = catalogue
        self._seen: set[str] = set()

    @property
    def catalogue(self) -> list[Skill]:
        """The known skills (read when needed: LLM-discovered skills exist after reset)."""
        source = self._catalogue
        return list(source() if callable(source) else source)

    # ------------------------------------------------------------------ teacher health

    def teacher_health(self, iteration: int, budget: int) -> dict[str, Any]:
        """The teacher's health in ``iteration`` (see :meth:`LLMTeacher.health`)."""
        return self.teacher.health(iteration, budget)

    def on_degraded(self) -> None:
        """The run stops for an unusable teacher (see :meth:`LLMTeacher.on_degraded`)."""
        self.teacher.on_degraded()

    # ------------------------------------------------------------------ Engine protocol

    def generate(self, plan: Action, observation: Observation, *, seed: int) -> list[TrainingDatum]:
        """Write the data ``plan`` asks for; drops and shortfalls go to the teacher's ledger."""
        iteration = observation.iteration + 1
        if observation.iteration == 0:
            self._seen = set()  # a new episode
        self.teacher.client.set_iteration(iteration)
        shown = self._shown_prompts(observation)
        targets = [t for t in self._targets(plan, observation) if t.count > 0]
        ledger = self.teacher.engine_ledger
        ledger.clear(iteration)  # a resumed run replays iterations: count each once
        ledger.add(iteration, requested=sum(t.count for t in targets))
        for round_index in range(self.teacher.options.max_topups + 1):
            short = [t for t in targets if t.missing > 0]
            if not short:
                break
            if round_index > 0:
                ledger.add(iteration, topup_rounds=1, topup_requested=sum(t.missing for t in short))
            if not self._round(short, observation, seed, iteration, round_index, shown):
                # Not one call of the round gave a valid answer (endpoint down, or it does
                # not answer in JSON): top-ups would only spend the same time again.
                break
        data = [d for t in targets for d in t.kept]
        ledger.add(iteration, kept=len(data), shortfall=sum(max(0, t.missing) for t in targets))
        self.teacher.write_usage(iteration)
        return data

    # ------------------------------------------------------------------ one round of calls

    def _round(
        self,
        targets: list[Target],
        observation: Observation,
        seed: int,
        iteration: int,
        round_index: int,
        shown: set[str],
    ) -> bool:
        """One concurrent call per chunk of every target; True when any call gave a valid
        answer."""
        size = self.teacher.options.items_per_call
        jobs: list[tuple[Target, int]] = []
        batch: list[list[dict[str, Any]]] = []
        seeds: list[int] = []
        for t_index, target in enumerate(targets):
            chunks = _split(target.missing, -(-target.missing // size))
            for c_index, chunk in enumerate(chunks):
                jobs.append((target, chunk))
                batch.append(self._messages(target, chunk, observation, round_index))
                seeds.append(call_seed(seed, iteration, round_index, t_index, c_index))
        # One seed per call: identical prompts (two chunks of one target) must sample apart.
        answers = self._ask(batch, seeds, [chunk for _, chunk in jobs])
        ledger = self.teacher.engine_ledger
        # Build every returned example first and verify them all at once: a domain that
        # verifies by running code does it in one batch (verify_many) rather than per item.
        built: list[list[TrainingDatum | None]] = []
        for (target, chunk), answer in zip(jobs, answers, strict=True):
            if not isinstance(answer, GeneratedItems):
                built.append([])
                continue
            items = answer.items[: 2 * chunk]
            ledger.add(iteration, dropped_surplus=len(answer.items) - len(items))
            built.append([self._datum(i.prompt, i.answer, target) for i in items])
        flat = [d for row in built for d in row if d is not None]
        flat, checked = self._repair(flat, self._verify(flat), iteration)
        fixed = iter(flat)
        built = [[next(fixed) if d is not None else None for d in row] for row in built]
        verdicts = iter(checked)
        for (target, chunk), answer, row in zip(jobs, answers, built, strict=True):
            # Counted as in llm_usage.json's usage: failed_calls are calls given up after
            # retries, invalid_outputs answers that never gave a valid object.
            if answer is _FAILED:
                ledger.add(iteration, failed_calls=1, lost_to_failed_calls=chunk)
                continue
            if answer is None:
                ledger.add(iteration, invalid_outputs=1, lost_to_invalid_outputs=chunk)
                continue
            taken = 0
            for datum in row:
                error = next(verdicts) if datum is not None else None
                if taken == chunk or target.missing == 0:
                    ledger.add(iteration, dropped_surplus=1)
                    continue
                reason = self._reason(datum, error, shown)
                if datum is None or reason:
                    ledger.add(iteration, **{f"dropped_{reason}": 1})
                    continue
                self._seen.add(datum.prompt)
                target.kept.append(datum)
                taken += 1
        return any(isinstance(answer, GeneratedItems) for answer in answers)

    def _ask(
        self, batch: list[list[dict[str, Any]]], seeds: list[int], counts: list[int]
    ) -> list[Any]:
        client, opts = self.teacher.client, self.teacher.options

        # complete_structured_many takes one seed for the whole batch; calls with their own
        # seeds go through the same ordered thread pool as single structured calls.
        def one(job: tuple[list[dict[str, Any]], int, int]) -> GeneratedItems | object | None:
            messages, call, count = job
            try:
                return client.complete_structured(
                    messages,
                    GeneratedItems,
                    role="engine",
                    max_reasks=opts.max_reasks,
                    json_schema=self._items_schema(count),
                    seed=call,
                )
            except LLMCallFailed:  # counted in usage; counted here as a failed call
                return _FAILED

        jobs = list(zip(batch, seeds, counts, strict=True))
        return map_in_order(one, jobs, client.config.max_concurrency, skip_failures=False)

    def _items_schema(self, count: int) -> dict[str, Any]:
        """The engine's schema for one call: exactly ``count`` items, and where the domain
        states its question format (``prompt_pattern``), questions in that format."""
        keywords: dict[tuple[str, ...], dict[str, Any]] = {
            ("properties", "items"): {"minItems": count, "maxItems": count}
        }
        pattern = getattr(self.domain, "prompt_pattern", None)
        if isinstance(pattern, str) and pattern:
            keywords[("$defs", "GeneratedItem", "properties", "prompt")] = {"pattern": pattern}
        return with_keywords(GeneratedItems, keywords)

    def _datum(self, prompt: str, answer: str, target: Target) -> TrainingDatum | None:
        """The example as a training datum, or None when it is malformed (blank)."""
        try:
            return TrainingDatum(
                id=hashlib.sha1(f"{prompt}\x00{answer}".encode()).hexdigest()[:16],
                domain=self.domain.name,
                prompt=prompt,
                response=answer,
                skill=target.skill,
                subskill=target.subskill,
                source="llm",
                metadata={"model": self.teacher.config.model, "target": target.description},
            )
        except ValidationError:
            return None

    def _repair(
        self, data: list[TrainingDatum], verdicts: list[str | None], iteration: int
    ) -> tuple[list[TrainingDatum], list[str | None]]:
        """Where the domain can compute the answer to a question (``reference_answer``), a
        well-formed question with a wrong answer is kept with the right one (counted as
        ``repaired_answers``, verified again in one batch); otherwise the verdict stands."""
        solve = getattr(self.domain, "reference_answer", None)
        if not self.teacher.options.repair_answers or not callable(solve):
            return data, verdicts
        candidates: dict[int, TrainingDatum] = {}
        for index, (datum, error) in enumerate(zip(data, verdicts, strict=True)):
            answer = solve(datum.prompt) if error is not None else None
            if isinstance(answer, str) and answer != datum.response:
                fixed = self._datum(datum.prompt, answer, _target_of(datum))
                if fixed is not None:
                    candidates[index] = fixed
        if not candidates:
            return data, verdicts
        data, verdicts = list(data), list(verdicts)
        rechecked = self._verify(list(candidates.values()))
        for (index, fixed), error in zip(candidates.items(), rechecked, strict=True):
            if error is None:
                data[index], verdicts[index] = fixed, None
                self.teacher.engine_ledger.add(iteration, repaired_answers=1)
        return data, verdicts

    def _verify(self, data: list[TrainingDatum]) -> list[str | None]:
        """The domain's verdict on each datum (None: correct), in one batch where it can."""
        verify_many = getattr(self.domain, "verify_many", None)
        if callable(verify_many) and data:
            return list(verify_many(data))
        return [self.domain.verify(d) for d in data]

    def _reason(self, datum: TrainingDatum | None, error: str | None, shown: set[str]) -> str:
        """Why an example is dropped ("" when it is kept)."""
        if datum is None:
            return "malformed"
        if error is not None:
            return "failed_verification"
        if datum.prompt in shown:
            return "copied_shown_question"
        if datum.prompt in self._seen:
            return "duplicate"
        return ""

    # ------------------------------------------------------------------ prompts

    def _messages(
        self, target: Target, count: int, observation: Observation, round_index: int
    ) -> list[dict[str, Any]]:
        examples = ""
        if target.examples:
            examples = (
                "\nQuestions the student got wrong, in the exact format (for format and "
                "difficulty only):\n" + lines(instance_line(e) for e in target.examples) + "\n"
            )
        avoid = ""
        if round_index > 0 and target.kept:
            written = [d.prompt for d in target.kept[-_AVOID_SHOWN:]]
            avoid = (
                "\nQuestions already written for this target (write different ones):\n"
                + lines(dumps(p) for p in written)
                + "\n"
            )
        user = load_prompt(
            "engine",
            domain=self.domain.name,
            domain_brief=domain_brief(self.domain.name),
            count=count,
            target=target.as_json(),
            examples=examples,
            avoid=avoid,
        )
        return [
            {"role": "system", "content": load_prompt("system_teacher").strip()},
            {
                "role": "user",
                "content": user.rstrip() + "\n\n" + schema_note(GeneratedItems),
            },
        ]

    # ------------------------------------------------------------------ plan -> targets

    def _describe(self, skill: str | None, subskill: str | None) -> str:
        for known in self.catalogue:
            if known.name == skill:
                if subskill and subskill in known.subskills:
                    return f"{skill}: {subskill} ({known.subskills[subskill]})"
                return f"{skill} ({known.description})" if known.description else skill
        return "/".join(x for x in (skill, subskill) if x) or "any weakness of the student"

    def _targets(self, plan: Action, observation: Observation) -> list[Target]:
        errors = _errors_by_skill(observation)
        per_target = self.teacher.options.examples_per_target
        targets: list[Target] = []
        if isinstance(plan, OpenEndedAction):
            for spec in plan.specs:
                examples = []
                if spec.example_prompt and spec.example_answer:
                    examples = [_example(observation, spec.example_prompt, spec.example_answer)]
                description = spec.description or self._describe(spec.skill, spec.subskill)
                targets.append(Target(spec.skill, spec.subskill, description, spec.count, examples))
        elif isinstance(plan, SkillListAction):
            for skill, request in plan.requests.items():
                known = next((s for s in self.catalogue if s.name == skill), None)
                subskills = set(known.subskills) if known else set()
                goals = request.targets or [self._describe(skill, None)]
                for goal, n in zip(goals, _split(request.count, len(goals)), strict=False):
                    sub = goal if goal in subskills else None
                    description = self._describe(skill, sub) if sub else f"{skill}: {goal}"
                    targets.append(
                        Target(skill, sub, description, n, errors.get(skill, [])[:per_target])
                    )
        elif isinstance(plan, SkillTreeAction):
            if not isinstance(observation, SkillTreeObservation):
                raise TypeError("a Skill-Tree plan needs a Skill-Tree observation")
            forest, _ = apply_tree_action(observation.forest, plan)
            for node in forest.skills.values():
                for leaf in node.subskills.values():
                    description = leaf.description or self._describe(node.name, leaf.name)
                    targets.append(
                        Target(
                            node.name,
                            leaf.name,
                            f"{node.name}: {leaf.name} ({description})",
                            leaf.allocation,
                        )
                    )
        return targets

    @staticmethod
    def _shown_prompts(observation: Observation) -> set[str]:
        """Validation questions the observation showed: the engine must not hand them back."""
        if isinstance(observation, OpenEndedObservation):
            return {e.instance.prompt for e in observation.evaluated}
        if isinstance(observation, SkillListObservation):
            return {e.instance.prompt for s in observation.skills.values() for e in s.errors}
        return set()


def _target_of(datum: TrainingDatum) -> Target:
    """The target a datum was written for, enough to rebuild it with another answer."""
    description = str(datum.metadata.get("target", "")) if datum.metadata else ""
    return Target(datum.skill, datum.subskill, description, 1)


def _errors_by_skill(observation: Observation) -> dict[str, list[EvaluatedInstance]]:
    if isinstance(observation, SkillListObservation):
        return {name: list(s.errors) for name, s in observation.skills.items()}
    if isinstance(observation, OpenEndedObservation):
        out: dict[str, list[EvaluatedInstance]] = {}
        for item in observation.evaluated:
            if not item.correct:
                out.setdefault(item.instance.skill or "unknown", []).append(item)
        return out
    return {}


def _example(observation: Observation, prompt: str, answer: str) -> EvaluatedInstance:
    """A spec's example: the evaluated instance it quotes, else one built from its text."""
    if isinstance(observation, OpenEndedObservation):
        for item in observation.evaluated:
            if item.instance.prompt == prompt:
                return item
    instance = TaskInstance(id="example", domain="", prompt=prompt, answer=answer)
    return EvaluatedInstance(instance=instance, prediction="?", correct=False, partial=0.0)
