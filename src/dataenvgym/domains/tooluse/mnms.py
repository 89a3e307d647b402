"""MnMs (multi-step multi-modal tool use): loader and plan-accuracy scoring.

Rows follow the Hugging Face dataset ``zixianma/mnms`` (the name is configurable):
``id``, ``user_request``, ``plan`` (a list of ``{"id", "name", "args"}`` steps, or its JSON
text) and, where present, ``alt_plans`` (other acceptable plans). Scoring is MnMs'
plan evaluation:

* **plan accuracy** (``correct``): the predicted tool names, in order, equal the gold plan's
  or one of its alternatives';
* **tool F1** (``partial``): F1 of the predicted and gold tool multisets;
* **argument-name F1** (:func:`plan_metrics`): F1 of the (tool, argument name) pairs.

A prediction may be MnMs' JSON (a list of steps, or ``{"nodes": [...]}``), possibly inside
a Markdown fence, or this package's one-line plan format (``tool(a,b)|tool2($1)``).
Skills are plan lengths (``1-step``...), subskills the tool combinations.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "mnms"
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_TEXT_CALL = re.compile(r"^\s*([\w ]+?)\s*\((.*)\)\s*$")


class MnMsConfig(BaseModel):
    """Where the MnMs rows come from, and how they are split."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(default="zixianma/mnms", description="Hugging Face dataset name.")
    path: Path | None = Field(default=None, description="A local JSON/JSONL file instead.")
    split: str = "test_human_verified_filtered"
    val_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)


def _steps(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    if isinstance(raw, dict):
        raw = raw.get("nodes", [])
    return [dict(step) for step in raw or []]


def parse_prediction(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(tool name, argument names) per step of a predicted plan; ``[]`` if unreadable."""
    fenced = _FENCE.findall(text)
    body = (fenced[0] if fenced else text).strip()
    try:
        steps = _steps(json.loads(body))
    except (json.JSONDecodeError, TypeError, AttributeError):
        calls: list[tuple[str, tuple[str, ...]]] = []
        for part in body.split("|"):
            match = _TEXT_CALL.match(part)
            if match is None:
                return []
            calls.append((match.group(1).strip(), ()))
        return calls
    out = []
    for step in steps:
        args = step.get("args") or {}
        out.append(
            (str(step.get("name", "")), tuple(sorted(args) if isinstance(args, dict) else ()))
        )
    return out


def _f1(predicted: Counter[Any], gold: Counter[Any]) -> float:
    if not predicted and not gold:
        return 1.0
    hits = sum((predicted & gold).values())
    if hits == 0:
        return 0.0
    precision, recall = hits / sum(predicted.values()), hits / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


def plan_metrics(
    prediction: str, gold: Sequence[tuple[str, tuple[str, ...]]], alternatives: Sequence[Any] = ()
) -> dict[str, float]:
    """MnMs' plan metrics of ``prediction``: plan accuracy, tool F1, argument-name F1."""
    steps = parse_prediction(prediction)
    tools = [name for name, _ in steps]
    gold_tools = [name for name, _ in gold]
    sequences = [gold_tools] + [[str(s["name"]) for s in _steps(a)] for a in alternatives]
    arg_pairs = Counter((name, arg) for name, args in steps for arg in args)
    gold_pairs = Counter((name, arg) for name, args in gold for arg in args)
    return {
        "plan_accuracy": float(tools in sequences),
        "tool_f1": _f1(Counter(tools), Counter(gold_tools)),
        "argname_f1": _f1(arg_pairs, gold_pairs),
    }


def _rows(config: MnMsConfig) -> list[dict[str, Any]]:
    if config.path is not None:
        if not config.path.is_file():
            raise ConfigError(f"MnMs file {config.path} does not exist")
        text = config.path.read_text()
        if text.lstrip().startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    try:
        from datasets import load_dataset
    except ImportError as err:
        raise ConfigError("loading from the hub needs: pip install 'dataenvgym[hf]'") from err
    try:
        return [dict(row) for row in load_dataset(config.dataset, split=config.split)]
    except Exception as err:
        raise ConfigError(f"cannot load dataset {config.dataset!r}: {err}") from err


def to_instance(row: dict[str, Any]) -> TaskInstance:
    """An MnMs row as a task instance; ``answer`` is the gold plan as JSON."""
    plan = _steps(row["plan"])
    names = [str(step["name"]) for step in plan]
    return TaskInstance(
        id=str(row["id"]),
        domain=NAME,
        prompt=str(row["user_request"]),
        answer=json.dumps(plan),
        skill=f"{len(plan)}-step",
        subskill="+".join(names),
        metadata={"alt_plans": [_steps(a) for a in row.get("alt_plans") or []]},
    )


def load_mnms(config: MnMsConfig | None = None) -> list[TaskInstance]:
    """The MnMs requests with their gold plans."""
    return [to_instance(row) for row in _rows(config or MnMsConfig())]


class MnMsDomain:
    """MnMs as a :class:`~dataenvgym.protocols.Domain` (evaluation; no generators)."""

    name = NAME

    def __init__(
        self, config: MnMsConfig | None = None, instances: Sequence[TaskInstance] | None = None
    ) -> None:
        self.config = config or MnMsConfig()
        self.instances = list(instances) if instances is not None else load_mnms(self.config)
        if not self.instances:
            raise ConfigError("no MnMs examples loaded")
        self.tools = sorted({n for i in self.instances for n in (i.subskill or "").split("+")})

    def skills(self) -> list[Skill]:
        by_skill: dict[str, set[str]] = {}
        for inst in self.instances:
            by_skill.setdefault(inst.skill or "", set()).add(inst.subskill or "")
        return [
            Skill(
                name=skill,
                description=f"plans of {skill.split('-')[0]} tool calls",
                subskills={sub: f"calls {sub.replace('+', ', then ')}" for sub in sorted(subs)},
            )
            for skill, subs in sorted(by_skill.items())
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Disjoint validation/test splits, stratified by plan length."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        for skill in sorted({i.skill or "" for i in self.instances}):
            group = [i for i in self.instances if i.skill == skill]
            random.Random(f"mnms:{seed}:{skill}").shuffle(group)
            cut = round(len(group) * self.config.val_fraction)
            val += group[:cut]
            test += group[cut:]
        return val, test

    @staticmethod
    def _gold(instance: TaskInstance) -> list[tuple[str, tuple[str, ...]]]:
        return parse_prediction(instance.answer)

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        metrics = plan_metrics(
            prediction, self._gold(instance), instance.metadata.get("alt_plans", [])
        )
        return Score(correct=metrics["plan_accuracy"] == 1.0, partial=metrics["tool_f1"])

    def verify(self, datum: TrainingDatum) -> str | None:
        """A known request needs a right plan; a new one a readable plan of known tools."""
        steps = parse_prediction(datum.response)
        if not steps:
            return "the response is not a plan"
        unknown = sorted({name for name, _ in steps} - set(self.tools))
        if unknown:
            return f"unknown tools: {', '.join(unknown)}"
        known = next((i for i in self.instances if i.prompt == datum.prompt), None)
        if known is not None and not self.score(known, datum.response).correct:
            return f"the plan's tools differ from the gold plan of {known.id}"
        return None
