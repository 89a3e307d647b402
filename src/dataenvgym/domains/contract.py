"""The contract check of a domain: what an environment needs of it, checked before training.

:func:`check_domain` calls each method of a domain on a small sample and reports every
violation of :class:`~dataenvgym.protocols.Domain` (and, where the domain has generators,
:class:`~dataenvgym.protocols.ProceduralDomain`) as one line naming the domain, the method and
an offending item:

* ``name`` is a non-empty string, ``version`` (optional) a string;
* ``skills()`` returns :class:`~dataenvgym.types.Skill` objects with unique names;
* ``splits(seed)`` returns two non-empty lists of :class:`~dataenvgym.types.TaskInstance`,
  ids unique, no item (id or prompt) in both, every ``skill``/``subskill`` known, every
  ``domain`` the domain's name;
* ``score`` returns a :class:`~dataenvgym.types.Score`, scores the gold answer correct and
  accepts a garbage prediction; ``verify`` returns ``str | None``;
* ``generate`` returns at most ``count`` :class:`~dataenvgym.types.TrainingDatum` objects of
  the subskill asked for, which the domain's own ``verify`` accepts; ``pretraining_mix`` names
  known subskills with non-negative weights;
* prompts and answers fit the chosen student (:class:`~dataenvgym.protocols.TextLimits`):
  answer length, prompt + answer length, alphabet.

``make_env`` runs the whole check on domains the library does not ship, and the cheap part
(generators, verifier, student fit on generated data) on the built-in ones;
``dataenvgym check-domain NAME`` runs it whole on any domain.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dataenvgym.errors import ConfigError
from dataenvgym.protocols import BatchDomain, ProceduralDomain, TextLimits
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

#: Data each generator is asked for, and split items scored per subskill and split.
GENERATE_SAMPLE = 2
SCORE_SAMPLE = 1
REQUIRED_METHODS = ("skills", "splits", "score", "verify")
#: Kinds of violation that say an item does not fit the student (not that the domain is wrong).
FIT_KINDS = frozenset({"answer-length", "total-length", "alphabet"})
#: A prediction no scorer may choke on (students write such things).
GARBAGE = "?"


@dataclass(frozen=True)
class Violation:
    """One broken promise of a domain.

    Attributes:
        domain: The domain's name.
        method: The method (or attribute) at fault.
        problem: What is wrong.
        item: An offending item (its id, and its prompt where that helps), if any.
    """

    domain: str
    method: str
    problem: str
    item: str | None = None
    count: int = 1
    kind: str = ""

    @property
    def student_fit(self) -> bool:
        """Whether this is about the student's limits rather than the domain itself."""
        return self.kind in FIT_KINDS

    def line(self) -> str:
        """The violation on one line."""
        where = ""
        if self.item:
            others = f"; {self.count} items like it" if self.count > 1 else ""
            where = f" (item {self.item}{others})"
        return f"domain {self.domain!r}: {self.method}: {self.problem}{where}"


class DomainContractError(ConfigError):
    """A domain breaks its contract; nothing was trained.

    Attributes:
        violations: Every violation found, each printable with :meth:`Violation.line`.
    """

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        first = self.violations[0]
        more = len(self.violations) - 1
        tail = f" (and {more} more: run `dataenvgym check-domain` on it to see all)" if more else ""
        super().__init__(first.line() + tail)


class DomainRunError(ConfigError):
    """A domain's own code raised (or returned the wrong type) during a run."""


def describe_item(item: Any) -> str:
    """An item's id and the start of its prompt, for messages."""
    if isinstance(item, TaskInstance | TrainingDatum):
        prompt = item.prompt if len(item.prompt) <= 40 else item.prompt[:37] + "..."
        return f"{item.id} {prompt!r}"
    text = item if isinstance(item, str) else repr(item)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return type(value).__name__


class _Collector:
    """Violations, at most one line per (method, kind of problem) with a count of the rest."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self._found: dict[tuple[str, str], tuple[Violation, int]] = {}

    def add(self, method: str, problem: str, item: Any = None, *, kind: str | None = None) -> None:
        key = (method, kind or problem)
        if key in self._found:
            violation, count = self._found[key]
            self._found[key] = (violation, count + 1)
            return
        described = None if item is None else describe_item(item)
        violation = Violation(self.domain, method, problem, described, kind=kind or "")
        self._found[key] = (violation, 1)

    def violations(self) -> list[Violation]:
        return [
            Violation(v.domain, v.method, v.problem, v.item, count, v.kind)
            for v, count in self._found.values()
        ]


def _call(
    found: _Collector, method: str, fn: Callable[..., Any], *args: Any, item: Any = None
) -> Any:
    """``fn(*args)``, or None with a violation when it raises."""
    try:
        return fn(*args)
    except Exception as err:  # a user's method failing is what we report
        found.add(method, f"raised {_type_name(err)}: {err}", item, kind="raised")
        return None


def check_text_fit(
    found: _Collector, method: str, pairs: Iterable[tuple[Any, str, str]], limits: TextLimits
) -> None:
    """Report prompts/answers the student cannot read or write (one line per kind)."""
    for item, prompt, answer in pairs:
        if limits.max_response is not None and len(answer) > limits.max_response:
            found.add(
                method,
                f"answer of {len(answer)} characters; student {limits.student!r} writes at most "
                f"{limits.max_response} (shorten the answers or raise the student's limit)",
                item,
                kind="answer-length",
            )
        total = len(prompt) + len(answer)
        if limits.max_total is not None and total > limits.max_total:
            found.add(
                method,
                f"prompt + answer of {total} characters; student {limits.student!r} fits at most "
                f"{limits.max_total} (shorten them or raise the student's context)",
                item,
                kind="total-length",
            )
        if limits.alphabet is not None:
            unknown = sorted(set(prompt + answer) - limits.alphabet)
            if unknown:
                found.add(
                    method,
                    f"characters {''.join(unknown)!r} are outside the alphabet of student "
                    f"{limits.student!r} (the tiny student reads printable ASCII only)",
                    item,
                    kind="alphabet",
                )


def check_skills(found: _Collector, domain: Any) -> dict[str, set[str]] | None:
    """The known ``skill -> subskills``, or None when ``skills()`` is unusable."""
    skills = _call(found, "skills", domain.skills)
    if skills is None:
        return None
    if not isinstance(skills, list | tuple) or not skills:
        found.add(
            "skills",
            f"returned {_type_name(skills)} {skills!r:.40}; expected a non-empty "
            "list of dataenvgym.types.Skill",
        )
        return None
    known: dict[str, set[str]] = {}
    for skill in skills:
        if not isinstance(skill, Skill):
            found.add(
                "skills", f"returned a {_type_name(skill)}, not a dataenvgym.types.Skill", skill
            )
            return None
        if skill.name in known:
            found.add("skills", f"skill {skill.name!r} is listed twice")
        known[skill.name] = set(skill.subskills)
    return known


def _unknown_label(item: Any, known: dict[str, set[str]]) -> str | None:
    if item.skill is None:
        return None
    if item.skill not in known:
        return f"skill {item.skill!r} is not in skills() ({', '.join(sorted(known))})"
    if item.subskill is not None and item.subskill not in known[item.skill]:
        return f"subskill {subskill_key(item.skill, item.subskill)!r} is not in skills()"
    return None


def check_splits(
    found: _Collector,
    name: str,
    result: Any,
    known: dict[str, set[str]] | None,
    limits: TextLimits | None,
) -> tuple[list[TaskInstance], list[TaskInstance]] | None:
    """Check what ``splits`` returned; the two splits when they are usable."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        found.add(
            "splits",
            f"returned {_type_name(result)}; expected a tuple (validation, test) "
            "of two lists of TaskInstance",
        )
        return None
    usable = True
    for label, items in zip(("validation", "test"), result, strict=True):
        if not isinstance(items, list | tuple):
            found.add("splits", f"{label} split is a {_type_name(items)}, not a list")
            usable = False
        elif not items:
            found.add("splits", f"{label} split is empty; both splits need items")
            usable = False
        else:
            bad = [i for i in items if not isinstance(i, TaskInstance)]
            if bad:
                found.add(
                    "splits",
                    f"{label} split holds a {_type_name(bad[0])}, not a "
                    "dataenvgym.types.TaskInstance",
                    bad[0],
                )
                usable = False
    if not usable:
        return None
    val, test = list(result[0]), list(result[1])
    for label, items in (("validation", val), ("test", test)):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                found.add(
                    "splits", f"id repeated within the {label} split", item, kind=f"dup-{label}"
                )
            seen.add(item.id)
            if item.domain != name:
                found.add(
                    "splits", f"item's domain is {item.domain!r}, not {name!r}", item, kind="domain"
                )
            if known is not None:
                problem = _unknown_label(item, known)
                if problem:
                    found.add("splits", problem, item, kind="label")
    val_ids, val_prompts = {i.id for i in val}, {i.prompt for i in val}
    for item in test:
        if item.id in val_ids or item.prompt in val_prompts:
            found.add(
                "splits",
                "validation and test overlap: this test item is also in "
                "validation (splits must be disjoint)",
                item,
                kind="overlap",
            )
    if limits is not None:
        check_text_fit(found, "splits", ((i, i.prompt, i.answer) for i in [*val, *test]), limits)
    return val, test


def _sample(items: Sequence[TaskInstance], per_subskill: int) -> list[TaskInstance]:
    taken: dict[str, int] = {}
    out = []
    for item in items:
        key = subskill_key(item.skill, item.subskill)
        if taken.get(key, 0) < per_subskill:
            taken[key] = taken.get(key, 0) + 1
            out.append(item)
    return out


def check_scorer(found: _Collector, domain: Any, items: Sequence[TaskInstance]) -> None:
    """Score each item's gold answer (must be correct) and a garbage answer (must not fail)."""
    for prediction, must_be_correct in ((None, True), (GARBAGE, False)):
        answers = [item.answer if prediction is None else prediction for item in items]
        if isinstance(domain, BatchDomain):
            scores = _call(found, "score_many", domain.score_many, items, answers)
            if scores is None:
                continue
            if not isinstance(scores, list) or len(scores) != len(items):
                found.add(
                    "score_many",
                    f"returned {_type_name(scores)}; expected a list of {len(items)} Score",
                )
                continue
            pairs = list(zip(items, scores, strict=True))
        else:
            pairs = [
                (i, _call(found, "score", domain.score, i, a, item=i))
                for i, a in zip(items, answers, strict=True)
            ]
        method = "score_many" if isinstance(domain, BatchDomain) else "score"
        for item, score in pairs:
            if score is None:
                continue
            if not isinstance(score, Score):
                found.add(
                    method,
                    f"returned {_type_name(score)} {score!r:.40}; expected "
                    "dataenvgym.types.Score(correct=..., partial=...)",
                    item,
                    kind="type",
                )
            elif must_be_correct and not score.correct:
                found.add(method, "scores the item's own gold answer as wrong", item, kind="gold")


def check_verdicts(found: _Collector, domain: Any, data: Sequence[TrainingDatum]) -> None:
    """The domain's verifier must accept its own generator's data, with ``str | None``."""
    if not data:
        return
    if isinstance(domain, BatchDomain):
        method = "verify_many"
        verdicts = _call(found, method, domain.verify_many, list(data))
        if verdicts is None:
            return
        if not isinstance(verdicts, list) or len(verdicts) != len(data):
            found.add(
                method,
                f"returned {_type_name(verdicts)}; expected a list of {len(data)} str | None",
            )
            return
    else:
        method = "verify"
        verdicts = [_call(found, method, domain.verify, d, item=d) for d in data]
    for datum, verdict in zip(data, verdicts, strict=True):
        if verdict is not None and not isinstance(verdict, str):
            found.add(
                method,
                f"returned {_type_name(verdict)} {verdict!r:.40}; expected None "
                "(accepted) or a str (why it is wrong)",
                datum,
                kind="type",
            )
        elif isinstance(verdict, str):
            found.add("generate", f"its own verify rejects it: {verdict}", datum, kind="rejected")


def check_generators(
    found: _Collector,
    domain: Any,
    known: dict[str, set[str]],
    seed: int,
    limits: TextLimits | None,
) -> None:
    """Ask every subskill's generator for a few data; check them and the pretraining mix."""
    name = domain.name
    data: list[TrainingDatum] = []
    for skill in sorted(known):
        for subskill in sorted(known[skill]):
            key = subskill_key(skill, subskill)
            rng = random.Random(f"contract:{seed}:{key}")
            made = _call(
                found, "generate", domain.generate, skill, subskill, GENERATE_SAMPLE, rng, item=key
            )
            if made is None:
                continue
            if not isinstance(made, list):
                found.add(
                    "generate",
                    f"returned {_type_name(made)}; expected a list of TrainingDatum",
                    key,
                    kind="type",
                )
                continue
            if not made:
                found.add(
                    "generate",
                    f"generated nothing for {key} (asked for {GENERATE_SAMPLE})",
                    key,
                    kind="empty",
                )
            if len(made) > GENERATE_SAMPLE:
                found.add(
                    "generate",
                    f"returned {len(made)} data for count={GENERATE_SAMPLE} (at most count)",
                    key,
                    kind="too-many",
                )
            for datum in made:
                if not isinstance(datum, TrainingDatum):
                    found.add(
                        "generate",
                        f"returned a {_type_name(datum)}, not a dataenvgym.types.TrainingDatum",
                        datum,
                        kind="item-type",
                    )
                    continue
                if datum.domain != name:
                    found.add(
                        "generate",
                        f"datum's domain is {datum.domain!r}, not {name!r}",
                        datum,
                        kind="domain",
                    )
                elif (datum.skill, datum.subskill) != (skill, subskill):
                    found.add(
                        "generate",
                        f"asked for {key}, returned a datum of "
                        f"{subskill_key(datum.skill, datum.subskill)}",
                        datum,
                        kind="label",
                    )
                else:
                    data.append(datum)
    check_verdicts(found, domain, data)
    if limits is not None:
        check_text_fit(found, "generate", ((d, d.prompt, d.response) for d in data), limits)
    mix = _call(found, "pretraining_mix", domain.pretraining_mix)
    if mix is None:
        return
    if not isinstance(mix, dict) or not mix:
        found.add(
            "pretraining_mix",
            f"returned {_type_name(mix)} {mix!r:.40}; expected a "
            "non-empty dict 'skill/subskill' -> weight",
        )
        return
    for key, weight in mix.items():
        skill, _, subskill = str(key).partition("/")
        if subskill not in known.get(skill, set()):
            found.add(
                "pretraining_mix", f"key {key!r} is not a 'skill/subskill' of skills()", kind="key"
            )
        elif isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            found.add(
                "pretraining_mix",
                f"weight of {key!r} is {weight!r}; weights are non-negative numbers",
                kind="weight",
            )
    if all(isinstance(w, int | float) for w in mix.values()) and sum(mix.values()) <= 0:
        found.add("pretraining_mix", "weights sum to 0: the base student would see no data")


@dataclass
class ContractReport:
    """What :func:`run_contract` found, and the splits it checked (None if not usable)."""

    violations: list[Violation]
    splits: tuple[list[TaskInstance], list[TaskInstance]] | None = None


def run_contract(
    domain: Any, *, limits: TextLimits | None = None, seed: int = 0, splits: bool = True
) -> ContractReport:
    """Check ``domain``; see :func:`check_domain`. Also returns the checked splits."""
    name = getattr(domain, "name", None)
    if not isinstance(name, str) or not name.strip():
        label = _type_name(domain)
        problem = f"is {name!r}; a domain needs a non-empty str name"
        return ContractReport([Violation(label, "name", problem)])
    found = _Collector(name)
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(domain, m, None))]
    if missing:
        for method in missing:
            found.add(method, "is missing: a Domain needs skills, splits, score and verify")
        return ContractReport(found.violations())
    half = [m for m in ("generate", "pretraining_mix") if callable(getattr(domain, m, None))]
    if len(half) == 1:
        other = "pretraining_mix" if half[0] == "generate" else "generate"
        found.add(
            other,
            f"is missing: a domain with {half[0]} needs both generate and "
            "pretraining_mix to be a ProceduralDomain",
        )
    version = getattr(domain, "version", "0")
    if not isinstance(version, str):
        found.add(
            "version",
            f'is {_type_name(version)} {version!r}; declare it as a str (e.g. version = "1")',
        )
    known = check_skills(found, domain)
    checked = None
    if splits:
        result = _call(found, "splits", domain.splits, seed, item=f"seed {seed}")
        checked = None if result is None else check_splits(found, name, result, known, limits)
        if checked is not None:
            val, test = checked
            check_scorer(found, domain, _sample(val, SCORE_SAMPLE) + _sample(test, SCORE_SAMPLE))
    if known is not None and isinstance(domain, ProceduralDomain):
        check_generators(found, domain, known, seed, limits)
    return ContractReport(found.violations(), checked)


def check_domain(
    domain: Any, *, limits: TextLimits | None = None, seed: int = 0, splits: bool = True
) -> list[Violation]:
    """Every violation of the domain contract found on a sample (empty: the domain is fine).

    Args:
        domain: The domain to check.
        limits: The student's text limits (None: not checked).
        seed: The seed of the splits and of the generators' sample.
        splits: Also check ``splits(seed)`` and score a sample of it (the expensive part for
            domains that load or render their splits).
    """
    return run_contract(domain, limits=limits, seed=seed, splits=splits).violations


def ensure_domain(domain: Any, **kwargs: Any) -> None:
    """Run :func:`check_domain`; raise :class:`DomainContractError` on any violation."""
    violations = check_domain(domain, **kwargs)
    if violations:
        raise DomainContractError(violations)
