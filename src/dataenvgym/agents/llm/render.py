"""Writing an environment's state into prompt text.

State goes into prompts as compact JSON (one object per line where lists are long): capable
models read it well, and a reader of the cached requests can too. Numbers are rounded so
that a prompt does not change from noise in the last digits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from dataenvgym.llm import list_prompts, load_prompt, schema_instructions
from dataenvgym.types import EvaluatedInstance, Skill, SkillForest


def dumps(value: Any) -> str:
    """Compact one-line JSON (non-ASCII kept readable)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def r3(value: float | None) -> float | None:
    """Rounded to 3 decimals (None stays None)."""
    return None if value is None else round(value, 3)


@cache
def schema_note(schema: type[BaseModel]) -> str:
    """The paragraph asking for JSON of ``schema`` (cached: building a JSON schema is slow)."""
    return schema_instructions(schema)


@cache
def domain_brief(domain: str) -> str:
    """What the domain's data looks like: ``prompts/domain_<name>.txt``, else a generic note.

    A domain added later gets a good teacher by adding its own ``domain_<name>.txt``.
    """
    name = f"domain_{domain}"
    if name in list_prompts():
        return load_prompt(name).strip()
    return load_prompt("domain_generic", domain=domain).strip()


def instance_line(item: EvaluatedInstance) -> str:
    """One evaluated instance as a JSON line: question, correct answer, student's answer."""
    return dumps(
        {
            "question": item.instance.prompt,
            "correct_answer": item.instance.answer,
            "student_answer": item.prediction,
        }
    )


def spread(items: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` items taken evenly across ``items`` (keeps variety, deterministic)."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def lines(rows: Iterable[str]) -> str:
    """Rows as a bulleted block, or a note that there are none."""
    text = "\n".join(f"- {row}" for row in rows)
    return text or "- (none)"


def catalogue_json(catalogue: Sequence[Skill]) -> str:
    """The known skills with their descriptions and subskill names."""
    return dumps(
        [
            {"skill": s.name, "description": s.description, "known_subskills": sorted(s.subskills)}
            for s in catalogue
        ]
    )


def forest_json(forest: SkillForest) -> str:
    """The Skill-Tree state: one JSON line per skill with its subskills."""
    rows = []
    for skill in forest.skills.values():
        rows.append(
            dumps(
                {
                    "skill": skill.name,
                    "description": skill.description,
                    "val_accuracy": r3(skill.accuracy),
                    "val_partial_credit": r3(skill.partial),
                    "history": [r3(h) for h in skill.history],
                    "subskills": [
                        {
                            "subskill": sub.name,
                            "description": sub.description,
                            "allocation": sub.allocation,
                            "val_accuracy": r3(sub.val_accuracy),
                            "accuracy_on_its_data": r3(sub.data_accuracy),
                            "history": [r3(h) for h in sub.history],
                            "total_data": sub.total_data,
                        }
                        for sub in skill.subskills.values()
                    ],
                }
            )
        )
    return "\n".join(rows)


def rewards(history: Sequence[float]) -> str:
    """Reward history (Δ validation accuracy per iteration) as JSON."""
    return dumps([r3(x) for x in history])
