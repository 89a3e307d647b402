"""How the oracle draws: its data as a procedural engine would, its private test copy,
and per-subskill counts as the action of each environment.

Kept apart from :mod:`dataenvgym.agents.oracle` (the look-ahead) because these are plain
functions of a domain and counts, with no student in them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from dataenvgym.protocols import ProceduralDomain
from dataenvgym.types import (
    Action,
    DataSpec,
    NewSubskill,
    Observation,
    OpenEndedAction,
    OpenEndedObservation,
    SkillListAction,
    SkillListObservation,
    SkillRequest,
    SkillTreeAction,
    SkillTreeObservation,
    TaskInstance,
    TrainingDatum,
)


def fresh_data(
    domain: ProceduralDomain, counts: dict[str, int], taken: set[str], *, salt: str
) -> list[TrainingDatum]:
    """``counts[skill/subskill]`` generated data, distinct, none with a prompt in ``taken``.

    Spaces too small to give that many new prompts give fewer.
    """
    data: list[TrainingDatum] = []
    for key, count in counts.items():
        skill, _, subskill = key.partition("/")
        rng = random.Random(f"{salt}:{key}")
        seen: set[str] = set()
        for _ in range(20):
            if len(seen) >= count:
                break
            for datum in domain.generate(skill, subskill, count - len(seen), rng):
                if datum.prompt not in taken and datum.prompt not in seen:
                    seen.add(datum.prompt)
                    data.append(datum)
    return data


def draw_as_an_engine(
    domain: ProceduralDomain,
    counts: dict[str, int],
    own: set[str],
    evaluation: set[str],
    *,
    salt: str,
) -> tuple[list[TrainingDatum], list[TrainingDatum]]:
    """The data a procedural engine would write for ``counts``, and what the environment keeps.

    The draw refills against the writer's ``own`` prompts (its earlier data, as the engine
    avoids repeating itself) but not against ``evaluation``: an engine cannot know the
    evaluation splits, so the data that copy one of their prompts are written and then
    dropped by the environment's contamination guard, and that share of the budget is lost.

    Returns:
        ``(drawn, kept)``: the data to submit, and those of them the guard lets through.
    """
    drawn = fresh_data(domain, counts, own, salt=salt)
    return drawn, [d for d in drawn if d.prompt not in evaluation]


def private_items(
    domain: ProceduralDomain,
    units: Sequence[str],
    per_unit: int,
    seed: int,
    excluded: set[str],
) -> list[TaskInstance]:
    """The oracle's private test copy: fresh generated items, none of them in ``excluded``."""
    data = fresh_data(
        domain, dict.fromkeys(units, per_unit), excluded, salt=f"oracle-private:{seed}"
    )
    return [datum.as_instance(id=f"oracle-{index:05d}") for index, datum in enumerate(data)]


def counts_to_action(
    counts: dict[str, int], observation: Observation, *, notes: str = ""
) -> Action:
    """Per-subskill counts as the action of the observation's environment (data still empty)."""
    split = {key: key.partition("/")[::2] for key in counts}
    if isinstance(observation, OpenEndedObservation):
        specs = [
            DataSpec(count=n, skill=split[k][0], subskill=split[k][1])
            for k, n in counts.items()
            if n > 0
        ]
        return OpenEndedAction(specs=specs, notes=notes)
    if isinstance(observation, SkillListObservation):
        totals: dict[str, int] = {}
        targets: dict[str, list[str]] = {}
        for key, n in counts.items():
            skill, subskill = split[key]
            totals[skill] = totals.get(skill, 0) + n
            if n > 0:
                targets.setdefault(skill, []).append(subskill)
        requests = {
            s: SkillRequest(count=n, targets=targets.get(s, []))
            for s, n in totals.items()
            if s in observation.skills
        }
        return SkillListAction(requests=requests, notes=notes)
    if isinstance(observation, SkillTreeObservation):
        explore: dict[str, list[NewSubskill]] = {}
        exploit: dict[str, dict[str, int]] = {}
        for key, n in counts.items():
            skill, subskill = split[key]
            node = observation.forest.skills.get(skill)
            if node is None:
                continue
            if subskill in node.subskills:
                exploit.setdefault(skill, {})[subskill] = n  # 0 prunes; explored again later
            elif n > 0:
                explore.setdefault(skill, []).append(NewSubskill(name=subskill, allocation=n))
        return SkillTreeAction(explore=explore, exploit=exploit, notes=notes)
    raise TypeError(f"the oracle cannot act on a {type(observation).__name__}")
