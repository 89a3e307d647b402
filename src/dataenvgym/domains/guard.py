"""A user's domain, wrapped so that its failures during a run say where they happened.

:class:`GuardedDomain` stands in for a domain the library does not ship. It passes every call
through, and turns an exception raised inside the domain's own code (or a result of the wrong
type) into a :class:`~dataenvgym.domains.contract.DomainRunError` naming the domain, the method,
the split and the item, instead of a traceback from deep inside the library. Every split it
hands out is checked against the contract first (non-empty, disjoint, known skills, fits the
student), so a domain whose splits change with the seed is still checked on each.

The wrapper has exactly the optional methods the domain has (``generate``, ``score_many``,
...), so ``isinstance(guarded, ProceduralDomain)`` and ``BatchDomain`` answer as for the
domain itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from dataenvgym.domains.contract import (
    DomainContractError,
    DomainRunError,
    _Collector,
    check_splits,
    describe_item,
)
from dataenvgym.protocols import TextLimits
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

_OPTIONAL = ("generate", "pretraining_mix", "score_many", "verify_many")


class GuardedDomain:
    """Wraps ``domain``; see the module docstring.

    Args:
        domain: The user's domain.
        limits: The student's text limits, checked on every split handed out.
    """

    def __init__(self, domain: Any, limits: TextLimits | None = None) -> None:
        self._inner = domain
        self._limits = limits
        self._split_of: dict[str, str] = {}
        self._splits_cache: dict[int, tuple[list[TaskInstance], list[TaskInstance]]] = {}

    @property
    def inner(self) -> Any:
        """The wrapped domain."""
        return self._inner

    @property
    def name(self) -> str:
        return str(self._inner.name)

    @property
    def version(self) -> str:
        return str(getattr(self._inner, "version", "0"))

    def __getattr__(self, attr: str) -> Any:
        # Only called for attributes the wrapper lacks. `__dict__.get`: during unpickling
        # `_inner` is not set yet, and a lookup through `self._inner` would recurse.
        inner = self.__dict__.get("_inner")
        if inner is None or attr.startswith("__"):
            raise AttributeError(attr)
        if attr in _OPTIONAL:
            if not callable(getattr(inner, attr, None)):
                raise AttributeError(attr)
            return getattr(self, f"_guarded_{attr}")
        return getattr(inner, attr)

    def __getstate__(self) -> dict[str, Any]:
        # Checkpoints pickle agents that hold their domain: leave the splits out.
        return {**self.__dict__, "_split_of": {}, "_splits_cache": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"GuardedDomain({self._inner!r})"

    # ------------------------------------------------------------------ helpers

    def _fail(self, method: str, problem: str, *, split: str | None, item: Any) -> DomainRunError:
        where = []
        if split is not None:
            where.append(f"split {split}")
        if item is not None:
            where.append(f"item {item if isinstance(item, str) else describe_item(item)}")
        suffix = f" ({', '.join(where)})" if where else ""
        return DomainRunError(
            f"domain {self.name!r}: {method} {problem}{suffix}; fix the domain's {method}"
        )

    def _run(
        self, method: str, call: Callable[[], Any], *, split: str | None = None, item: Any = None
    ) -> Any:
        try:
            return call()
        except DomainRunError:
            raise
        except Exception as err:  # the user's own code: say where it failed
            problem = f"raised {type(err).__name__}: {err}".rstrip(": ")
            raise self._fail(method, problem, split=split, item=item) from err

    def _split(self, instance: TaskInstance) -> str:
        return self._split_of.get(instance.id, "generated data")

    # ------------------------------------------------------------------ Domain

    def skills(self) -> list[Skill]:
        skills = self._run("skills", self._inner.skills)
        if not isinstance(skills, list) or not all(isinstance(s, Skill) for s in skills):
            raise self._fail(
                "skills",
                f"returned {type(skills).__name__}, not a list of Skill",
                split=None,
                item=None,
            )
        return skills

    def remember(self, seed: int, splits: tuple[list[TaskInstance], list[TaskInstance]]) -> None:
        """Hand out ``splits`` (already checked) for ``seed`` without calling the domain."""
        val, test = splits
        self._split_of.update({i.id: "validation" for i in val})
        self._split_of.update({i.id: "test" for i in test})
        self._splits_cache = {seed: (list(val), list(test))}

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        if seed in self._splits_cache:
            val, test = self._splits_cache[seed]
            return list(val), list(test)
        result = self._run("splits", lambda: self._inner.splits(seed), item=f"seed {seed}")
        found = _Collector(self.name)
        known = {s.name: set(s.subskills) for s in self.skills()}
        checked = check_splits(found, self.name, result, known, self._limits)
        violations = found.violations()
        if violations or checked is None:
            raise DomainContractError(violations)
        self.remember(seed, checked)  # the latest only: splits can be large
        val, test = checked
        return list(val), list(test)

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        split = self._split(instance)
        score = self._run(
            "score", lambda: self._inner.score(instance, prediction), split=split, item=instance
        )
        if not isinstance(score, Score):
            raise self._fail(
                "score",
                f"returned {type(score).__name__} {score!r:.40}, not a dataenvgym.types.Score",
                split=split,
                item=instance,
            )
        return score

    def verify(self, datum: TrainingDatum) -> str | None:
        verdict = self._run(
            "verify", lambda: self._inner.verify(datum), split="training data", item=datum
        )
        if verdict is not None and not isinstance(verdict, str):
            raise self._fail(
                "verify",
                f"returned {type(verdict).__name__} {verdict!r:.40}, not str | None",
                split="training data",
                item=datum,
            )
        return verdict

    # ------------------------------------------------------------------ optional methods

    def _guarded_generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        key = subskill_key(skill, subskill)
        data = self._run(
            "generate",
            lambda: self._inner.generate(skill, subskill, count, rng),
            split="training data",
            item=key,
        )
        if not isinstance(data, list):
            raise self._fail(
                "generate",
                f"returned {type(data).__name__}, not a list of TrainingDatum",
                split="training data",
                item=key,
            )
        for datum in data:
            if not isinstance(datum, TrainingDatum):
                raise self._fail(
                    "generate",
                    f"returned a {type(datum).__name__}, not a dataenvgym.types.TrainingDatum",
                    split="training data",
                    item=describe_item(datum),
                )
        if len(data) > count:
            raise self._fail(
                "generate",
                f"returned {len(data)} data for count={count} (at most count)",
                split="training data",
                item=key,
            )
        return data

    def _guarded_pretraining_mix(self) -> dict[str, float]:
        mix = self._run("pretraining_mix", self._inner.pretraining_mix)
        if not isinstance(mix, dict):
            raise self._fail(
                "pretraining_mix",
                f"returned {type(mix).__name__}, not a dict",
                split=None,
                item=None,
            )
        return mix

    def _guarded_score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        split = self._split(instances[0]) if instances else None
        first = instances[0] if instances else None
        scores = self._run(
            "score_many",
            lambda: self._inner.score_many(instances, predictions),
            split=split,
            item=first,
        )
        if not isinstance(scores, list) or len(scores) != len(instances):
            raise self._fail(
                "score_many",
                f"returned {type(scores).__name__}; expected a list of {len(instances)} Score",
                split=split,
                item=first,
            )
        for instance, score in zip(instances, scores, strict=True):
            if not isinstance(score, Score):
                raise self._fail(
                    "score_many",
                    f"returned a {type(score).__name__}, not a Score",
                    split=self._split(instance),
                    item=instance,
                )
        return scores

    def _guarded_verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        first = data[0] if data else None
        verdicts = self._run(
            "verify_many",
            lambda: self._inner.verify_many(data),
            split="training data",
            item=first,
        )
        if not isinstance(verdicts, list) or len(verdicts) != len(data):
            raise self._fail(
                "verify_many",
                f"returned {type(verdicts).__name__}; expected a list of {len(data)} str | None",
                split="training data",
                item=first,
            )
        for datum, verdict in zip(data, verdicts, strict=True):
            if verdict is not None and not isinstance(verdict, str):
                raise self._fail(
                    "verify_many",
                    f"returned a {type(verdict).__name__}, not str | None",
                    split="training data",
                    item=datum,
                )
        return verdicts
