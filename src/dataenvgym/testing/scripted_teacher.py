"""A scripted stand-in for a teacher model over the arithmetic domain, for the fake server.

:class:`ScriptedTeacher` is a :class:`~dataenvgym.testing.FakeOpenAIServer` responder that
answers every LLM-teacher prompt of this package (policies, subskill proposer, engine, skill
discovery) with valid JSON, the way a capable model would: it reads the request's schema
title and the state in the prompt, and writes arithmetic data with the domain's generators.
To exercise the teacher's defences it can write a fraction of wrong answers and of short
answers. Answers depend only on the request, so a cache replay matches a live run.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.domains.arithmetic.generators import fmt_answer

_OPERATORS = {"+": "addition", "-": "subtraction", "*": "multiplication", "%": "division"}
_LABELS = {
    "addition": "adding numbers",
    "subtraction": "subtracting numbers",
    "multiplication": "multiplying numbers",
    "division": "remainders of division",
}
_DECODER = json.JSONDecoder()


def _json_after(text: str, marker: str) -> Any:
    """The JSON value that follows ``marker`` in ``text`` (None when absent)."""
    at = text.find(marker)
    if at < 0:
        return None
    rest = text[at + len(marker) :].lstrip()
    try:
        return _DECODER.raw_decode(rest)[0]
    except ValueError:
        return None


def _json_lines(text: str, key: str) -> Iterator[dict[str, Any]]:
    """Every ``- {...}`` line of ``text`` whose object has ``key``."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("- {"):
            try:
                value = json.loads(line[2:])
            except ValueError:
                continue
            if isinstance(value, dict) and key in value:
                yield value
        elif line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and key in value:
                yield value


def _operation(question: str) -> str | None:
    for op, skill in _OPERATORS.items():
        if op in question.lstrip("-")[1:]:
            return skill
    return None


def _int_after(text: str, pattern: str, default: int) -> int:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else default


class ScriptedTeacher:
    """Answers the teacher prompts of :mod:`dataenvgym.agents.llm` and skill discovery.

    Args:
        wrong_rate: Fraction of generated examples given a wrong answer (verifier drops them).
        short_rate: Fraction of engine answers that return a third fewer examples than asked
            (the engine tops them up).
        seed: Mixed into every answer's random draws.
    """

    def __init__(self, wrong_rate: float = 0.1, short_rate: float = 0.2, seed: int = 0) -> None:
        self.wrong_rate = wrong_rate
        self.short_rate = short_rate
        self.seed = seed
        self.domain = ArithmeticDomain()
        self.catalogue = {s.name: list(s.subskills) for s in self.domain.skills()}
        #: Requests answered, by schema title.
        self.counts: Counter[str] = Counter()

    def __call__(self, request: dict[str, Any]) -> str:
        messages = request.get("messages", [])
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        if not users:
            return "{}"
        state, last = users[0], users[-1]
        try:
            title = json.loads(last.strip().splitlines()[-1]).get("title", "")
        except (ValueError, AttributeError):
            title = ""
        self.counts[title] += 1
        digest = hashlib.sha256(
            json.dumps([messages, request.get("seed"), self.seed], sort_keys=True).encode()
        ).hexdigest()
        rng = random.Random(digest)
        handler = getattr(self, f"_{title}", None)
        if handler is None:
            return json.dumps({"error": f"no script for {title!r}"})
        return json.dumps(handler(state, rng))

    # ------------------------------------------------------------------ engine

    def _pick(self, target: dict[str, Any], examples: list[str], rng: random.Random) -> tuple:
        skill, sub = target.get("skill"), target.get("subskill")
        text = f"{target.get('practise', '')} {sub or ''}".lower()
        if skill not in self.catalogue:
            skill = next((_operation(q) for q in examples if _operation(q)), None)
            if skill is None:
                skill = next((s for s in self.catalogue if s in text), None)
            skill = skill or rng.choice(sorted(self.catalogue))
        subs = self.catalogue[skill]
        if sub not in subs:
            named = [s for s in subs if s in text or s.replace("_", " ") in text]
            sub = rng.choice(named or subs)
        return skill, sub

    def _GeneratedItems(self, state: str, rng: random.Random) -> dict[str, Any]:
        count = _int_after(state, r"Write exactly (\d+) new", 1)
        target = _json_after(state, "Target:") or {}
        examples = [row["question"] for row in _json_lines(state, "question")]
        if rng.random() < self.short_rate and count > 1:
            count -= max(1, count // 3)
        items = []
        for _ in range(count):
            skill, sub = self._pick(target, examples, rng)
            datum = self.domain.generate(skill, sub, 1, rng)[0]
            answer = datum.response
            if rng.random() < self.wrong_rate:
                answer = fmt_answer(int(answer) + rng.choice([-10, -1, 1, 10]))
            items.append({"prompt": datum.prompt, "answer": answer})
        return {"items": items}

    # ------------------------------------------------------------------ policies

    def _OpenEndedPlan(self, state: str, rng: random.Random) -> dict[str, Any]:
        errors = list(_json_lines(state, "student_answer"))
        by_op: dict[str, list[dict[str, Any]]] = {}
        for row in errors:
            if row["student_answer"] != row["correct_answer"]:
                by_op.setdefault(_operation(row["question"]) or "addition", []).append(row)
        specs = [
            {
                "description": f"{skill} problems like the errors ({len(rows)} seen)",
                "weight": len(rows),
                "example_prompt": rows[0]["question"],
                "example_answer": rows[0]["correct_answer"],
            }
            for skill, rows in sorted(by_op.items())
        ]
        specs = specs or [{"description": "mixed addition and subtraction", "weight": 1}]
        return {"analysis": f"{len(errors)} errors over {len(by_op)} operations", "specs": specs}

    def _SkillAllocation(self, state: str, rng: random.Random) -> dict[str, Any]:
        rows = list(_json_lines(state, "val_accuracy"))
        return {
            "analysis": "more data where accuracy is low",
            "allocations": [
                {
                    "skill": row["skill"],
                    "count": int(100 * (1.05 - (row["val_accuracy"] or 0))),
                    "reason": f"accuracy {row['val_accuracy']}",
                }
                for row in rows
            ],
        }

    def _SkillHypotheses(self, state: str, rng: random.Random) -> dict[str, Any]:
        skill = _json_after(state, "Skill:") or {}
        subs = list(skill.get("known_subskills") or [])[:3] or [str(skill.get("skill", "it"))]
        return {
            "hypotheses": [
                {"weakness": f"cannot do {sub}", "data": f"{sub} problems, varied operands"}
                for sub in subs
            ]
        }

    def _TreeDecision(self, state: str, rng: random.Random) -> dict[str, Any]:
        budget = _int_after(state, r"at most (\d+) examples per iteration", 10)
        skills = list(_json_lines(state, "subskills"))
        if not any(row["subskills"] for row in skills):
            per = max(1, budget // max(1, 2 * len(skills)))
            explore = [{"skill": r["skill"], "num_subskills": 2, "allocation": per} for r in skills]
            return {"analysis": "empty tree: explore", "mode": "explore", "explore": explore}
        exploit = []
        for row in skills:
            for sub in row["subskills"]:
                acc = sub["val_accuracy"] if sub["val_accuracy"] is not None else 0.5
                allocation = 0 if acc >= 0.97 else int(budget * (1.1 - acc) / 4)
                exploit.append(
                    {"skill": row["skill"], "subskill": sub["subskill"], "allocation": allocation}
                )
        weakest = min(skills, key=lambda r: r["val_accuracy"] or 0)
        explore = [{"skill": weakest["skill"], "num_subskills": 1, "allocation": 3}]
        return {
            "analysis": "feed the weak, prune the mastered",
            "mode": "both",
            "explore": explore,
            "exploit": exploit,
        }

    def _SubskillProposals(self, state: str, rng: random.Random) -> dict[str, Any]:
        count = _int_after(state, r"Propose (\d+) new subskills", 1)
        skill = (_json_after(state, "Skill:") or {}).get("skill", "skill")
        existing = set(_json_after(state, "do not repeat them):") or [])
        known = list(_json_after(state, "known to have under the skill:") or [])
        names = [k for k in known if k not in existing]
        names += [f"{skill}_practice_{i}" for i in range(count + len(existing))]
        names = [n for n in names if n not in existing][:count]
        return {
            "subskills": [
                {"name": n, "description": f"{skill}: {n.replace('_', ' ')}"} for n in names
            ]
        }

    # ------------------------------------------------------------------ skill discovery

    def _label(self, row: dict[str, Any]) -> str:
        # Every ~8th instance gets a label the merge leaves out: it must be re-asked.
        if int(hashlib.md5(row["id"].encode()).hexdigest(), 16) % 8 == 0:
            return "misc arithmetic"
        return _LABELS[_operation(row["question"]) or "addition"]

    def _InstanceLabels(self, state: str, rng: random.Random) -> dict[str, Any]:
        rows = _json_lines(state, "id")
        return {"labels": [{"id": r["id"], "skill": self._label(r)} for r in rows]}

    def _SkillCategories(self, state: str, rng: random.Random) -> dict[str, Any]:
        present = set(re.findall(r'^- "([^"]+)":', state, flags=re.MULTILINE))
        return {
            "categories": [
                {"name": skill, "description": f"{skill} of integers", "labels": [label]}
                for skill, label in _LABELS.items()
                if label in present
            ]
        }

    def _InstanceAssignments(self, state: str, rng: random.Random) -> dict[str, Any]:
        rows = [r for r in _json_lines(state, "id")]
        return {
            "assignments": [
                {"id": r["id"], "skill": _operation(r["question"]) or "addition"} for r in rows
            ]
        }

    def _DiscoveredSubskills(self, state: str, rng: random.Random) -> dict[str, Any]:
        skill = (_json_after(state, "Skill:") or {}).get("name", "")
        count = _int_after(state, r"Propose (\d+) subskills", 2)
        subs = self.catalogue.get(skill, ["general"])[:count]
        return {"subskills": [{"name": s, "description": f"{skill}: {s}"} for s in subs]}
