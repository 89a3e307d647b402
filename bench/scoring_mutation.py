"""Mutation test of the built-in procedural domains' scorers and verifiers.

For every subskill of arithmetic, code, tool use and vqa, reference answers are taken from
validation and test items and turned into

* **mutants**: semantically wrong answers (off-by-one and wrong-operator numbers, other
  vocabulary words, wrong tools, missing or reordered calls, hard-coded results, swapped
  arguments; for code, operator / constant / comparison mutations of the reference
  expression, ``/`` for ``//``, a wrong tie-break, constant answers);
* **equivalents**: rewrites that must still be accepted (commuted arguments, whitespace,
  number formats, renamed bound variables, ...).

Both go through the public API, ``domain.score_many`` (``score`` where a domain has no batch
method) and ``domain.verify``. A false accept is a mutant that ``score`` calls correct (or
that ``verify`` admits); a false reject an equivalent that is not. Scoring normalises format
(``"68"`` for ``"0068"``, ``"Red"`` for ``"red"``) but training data must be canonical, so such
format rewrites are equivalents for ``score`` only.

Code mutants and rewrites are executed next to the reference on ``--code-inputs`` inputs
(see ``bench/mutation_code.py``): a mutant that no input tells apart is dropped, as is a
rewrite that some input does.

    python bench/scoring_mutation.py                       # all four domains, a few minutes
    python bench/scoring_mutation.py --domains tool-use --items 40
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import mutation_code
import mutation_tooluse
from dataenvgym.protocols import BatchDomain, Domain
from dataenvgym.registry import make_domain
from dataenvgym.types import TaskInstance, TrainingDatum

DOMAINS = ["arithmetic", "code", "tool-use", "vqa"]
RESULTS = Path(__file__).parent / "results"


class Variant:
    """One answer to score: a mutant (``wrong``) or an equivalent rewrite.

    ``verify_too``: whether ``verify`` must give the same verdict (False for format
    rewrites that only the scorer normalises).
    """

    __slots__ = ("operator", "text", "verify_too", "wrong")

    def __init__(self, operator: str, text: str, wrong: bool, verify_too: bool = True) -> None:
        self.operator, self.text, self.wrong, self.verify_too = operator, text, wrong, verify_too


Mutator = Callable[[TaskInstance, random.Random], list[Variant]]


# ---------------------------------------------------------------------------- arithmetic


def _arithmetic(instance: TaskInstance, rng: random.Random) -> list[Variant]:
    from dataenvgym.domains.arithmetic.domain import evaluate_prompt
    from dataenvgym.domains.arithmetic.generators import fmt_answer

    value = evaluate_prompt(instance.prompt)
    wrong = {value + 1, value - 1, value + 10, value - 10, -value, 0, value * 10}
    digits = str(abs(value))
    if len(digits) > 1:  # the last two digits swapped
        swapped = int(digits[:-2] + digits[-1] + digits[-2])
        wrong.add(swapped if value >= 0 else -swapped)
    operator = next((op for op in "+-*%/" if op in instance.prompt[1:]), None)
    for other in "+-*%":
        if operator and other != operator:
            with contextlib.suppress(ValueError):
                wrong.add(evaluate_prompt(instance.prompt.replace(operator, other, 1)))
    wrong.discard(value)
    out = [
        Variant("off by one/ten, sign, digits, wrong operator", fmt_answer(w), True) for w in wrong
    ]
    canonical = fmt_answer(value)
    out += [
        Variant("reference", canonical, False),
        Variant("no zero padding", str(value), False, verify_too=False),
        Variant("whitespace", f" {canonical} ", False, verify_too=False),
        Variant(
            "extra zero padding",
            ("-0" + canonical[1:]) if value < 0 else "0" + canonical,
            False,
            verify_too=False,
        ),
    ]
    return out


# ---------------------------------------------------------------------------- vqa


def _vqa(instance: TaskInstance, rng: random.Random) -> list[Variant]:
    from dataenvgym.domains.vqa.questions import NUMBERS
    from dataenvgym.domains.vqa.scene import COLORS, SHAPES

    gold = instance.answer
    for vocabulary in (("yes", "no"), COLORS, SHAPES, NUMBERS):
        if gold in vocabulary:
            break
    else:
        vocabulary = (gold,)
    out = [Variant("other answer of the same kind", w, True) for w in vocabulary if w != gold]
    if gold in NUMBERS:
        out.append(Variant("other answer of the same kind", str(int(gold) + 6), True))
    words = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}
    out += [
        Variant("reference", gold, False),
        Variant("upper case", gold.upper(), False, verify_too=False),
        Variant("whitespace and full stop", f"  {gold}. ", False, verify_too=False),
    ]
    if gold in words:
        out.append(Variant("number word", words[gold], False, verify_too=False))
    if gold == "gray":
        out.append(Variant("British spelling", "grey", False, verify_too=False))
    return out


# ---------------------------------------------------------------------------- tool use


def _tooluse(instance: TaskInstance, rng: random.Random) -> list[Variant]:
    variants = mutation_tooluse.variants(instance.answer, rng)
    return [Variant(op, text, wrong) for op, text, wrong in variants]


# ---------------------------------------------------------------------------- code


def _code_mutator(inputs_per_item: int, max_mutants: int, dropped: Counter[str]) -> Mutator:
    def mutate(instance: TaskInstance, rng: random.Random) -> list[Variant]:
        from dataenvgym.domains.code.domain import parse_prompt

        task = parse_prompt(instance.prompt)
        if task is None:
            raise ValueError(f"{instance.prompt!r} is not a code prompt")
        arg, reference = task.template.arg, instance.answer
        values = mutation_code.inputs(arg, reference, inputs_per_item, rng)
        candidates = mutation_code.variants(reference, arg, values[1], rng, max_mutants)
        kept, n_dropped = mutation_code.checked(reference, arg, candidates, values)
        dropped[instance.subskill or ""] += n_dropped
        return [Variant(op, text, wrong) for op, text, wrong in kept]

    return mutate


# ---------------------------------------------------------------------------- running


def _score(domain: Domain, instances: Sequence[TaskInstance], answers: Sequence[str]) -> list[bool]:
    if isinstance(domain, BatchDomain):
        return [s.correct for s in domain.score_many(instances, answers)]
    return [domain.score(i, a).correct for i, a in zip(instances, answers, strict=True)]


def _verify(domain: Domain, data: Sequence[TrainingDatum]) -> list[bool]:
    if isinstance(domain, BatchDomain):
        return [r is None for r in domain.verify_many(data)]
    return [domain.verify(d) is None for d in data]


def _items(domain: Domain, seed: int, per_subskill: int) -> list[TaskInstance]:
    val, test = domain.splits(seed)
    by_subskill: dict[str, list[TaskInstance]] = defaultdict(list)
    for item in val + test:
        by_subskill[f"{item.skill}/{item.subskill}"].append(item)
    rng = random.Random(f"scoring-mutation:{seed}")
    chosen = []
    for key in sorted(by_subskill):
        group = by_subskill[key]
        chosen += rng.sample(group, min(per_subskill, len(group)))
    return chosen


def run_domain(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Mutate, score and verify one domain; counts per subskill and a few examples."""
    started = time.perf_counter()
    size = {"val_per_subskill": args.items, "test_per_subskill": args.items}
    domain = make_domain(name, size)
    dropped: Counter[str] = Counter()
    mutators: dict[str, Mutator] = {
        "arithmetic": _arithmetic,
        "vqa": _vqa,
        "tool-use": _tooluse,
        "code": _code_mutator(args.code_inputs, args.code_mutants, dropped),
    }
    rng = random.Random(f"scoring-mutation:{name}:{args.seed}")
    rows: list[tuple[TaskInstance, Variant]] = []
    for item in _items(domain, args.seed, args.items):
        rows += [(item, v) for v in mutators[name](item, rng)]
    scored = _score(domain, [i for i, _ in rows], [v.text for _, v in rows])
    data = [
        TrainingDatum(
            id=f"m{k}",
            domain=name,
            prompt=item.prompt,
            response=variant.text,
            skill=item.skill,
            subskill=item.subskill,
            metadata=dict(item.metadata),
        )
        for k, (item, variant) in enumerate(rows)
    ]
    verified = _verify(domain, data)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    operators: dict[str, Counter[str]] = defaultdict(Counter)
    examples: list[dict[str, Any]] = []
    shown: Counter[str] = Counter()
    for (item, variant), accepted, admitted in zip(rows, scored, verified, strict=True):
        c = per[f"{item.skill}/{item.subskill}"]
        kind = "mutant" if variant.wrong else "equivalent"
        operators[variant.operator][kind] += 1
        if variant.wrong:
            c["mutants"] += 1
            c["score_false_accepts"] += accepted
            c["verify_false_accepts"] += admitted
            operators[variant.operator]["accepted"] += accepted or admitted
            bad = accepted or admitted
        else:
            c["equivalents"] += 1
            c["score_false_rejects"] += not accepted
            c["equivalents_for_verify"] += variant.verify_too
            c["verify_false_rejects"] += variant.verify_too and not admitted
            operators[variant.operator]["rejected"] += (not accepted) or (
                variant.verify_too and not admitted
            )
            bad = (not accepted) or (variant.verify_too and not admitted)
        shown[variant.operator] += bad
        if bad and shown[variant.operator] <= 2:  # two of each operator, not 20 of one
            examples.append(
                {
                    "prompt": item.prompt[-80:],
                    "reference": item.answer,
                    "variant": variant.text,
                    "operator": variant.operator,
                    "wrong": variant.wrong,
                    "score_correct": accepted,
                    "verify_admits": admitted,
                }
            )
    for key, n in dropped.items():
        per[next(k for k in per if k.endswith("/" + key))]["dropped_by_execution"] += n
    subskills = {key: _rates(c) for key, c in sorted(per.items())}
    total: Counter[str] = Counter()
    for c in per.values():
        total.update(c)
    return {
        "items": sum(1 for _ in {id(i) for i, _ in rows}),
        "seconds": round(time.perf_counter() - started, 1),
        "total": _rates(total),
        "subskills": subskills,
        "operators": {k: dict(v) for k, v in sorted(operators.items())},
        "examples": examples,
    }


def _rates(c: Counter[str]) -> dict[str, Any]:
    def rate(num: str, den: str) -> float | None:
        return round(c[num] / c[den], 4) if c[den] else None

    out: dict[str, Any] = dict(c)
    out["score_false_accept_rate"] = rate("score_false_accepts", "mutants")
    out["verify_false_accept_rate"] = rate("verify_false_accepts", "mutants")
    out["score_false_reject_rate"] = rate("score_false_rejects", "equivalents")
    out["verify_false_reject_rate"] = rate("verify_false_rejects", "equivalents_for_verify")
    return out


def _machine() -> dict[str, Any]:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch_version,
    }


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} ({100 * num / den:.1f} %)" if den else "–"


def markdown(result: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    meta = result["meta"]
    lines = [
        "# Scoring mutation test (bench/scoring_mutation.py)",
        "",
        f"`{meta['command']}` — {meta['date']}, {meta['machine']['processor']} "
        f"({meta['machine']['cpus']} CPUs), Python {meta['machine']['python']}, "
        f"torch {meta['machine']['torch']}.",
        "",
        "Mutants are wrong answers; a false accept is one that `score` calls correct or "
        "`verify` admits. Equivalents are rewrites that must stay right; format rewrites that "
        "only the scorer normalises (zero padding, case) count for `score` only. Counts, "
        "not intervals: every variant of every sampled item is scored.",
        "",
        "| domain | items | mutants | score false accepts | verify false accepts "
        "| equivalents | score false rejects | verify false rejects | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, d in result["domains"].items():
        t = d["total"]
        lines.append(
            f"| {name} | {d['items']} | {t.get('mutants', 0)} "
            f"| {_pct(t.get('score_false_accepts', 0), t.get('mutants', 0))} "
            f"| {_pct(t.get('verify_false_accepts', 0), t.get('mutants', 0))} "
            f"| {t.get('equivalents', 0)} "
            f"| {_pct(t.get('score_false_rejects', 0), t.get('equivalents', 0))} "
            f"| {_pct(t.get('verify_false_rejects', 0), t.get('equivalents_for_verify', 0))} "
            f"| {d['seconds']} |"
        )
    for name, d in result["domains"].items():
        lines += [
            "",
            f"## {name}",
            "",
            "| subskill | mutants | score FA | verify FA | equivalents | score FR | verify FR |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for key, c in d["subskills"].items():
            lines.append(
                f"| {key} | {c.get('mutants', 0)} "
                f"| {_pct(c.get('score_false_accepts', 0), c.get('mutants', 0))} "
                f"| {_pct(c.get('verify_false_accepts', 0), c.get('mutants', 0))} "
                f"| {c.get('equivalents', 0)} "
                f"| {_pct(c.get('score_false_rejects', 0), c.get('equivalents', 0))} "
                f"| {_pct(c.get('verify_false_rejects', 0), c.get('equivalents_for_verify', 0))} |"
            )
        lines += [
            "",
            "| operator | mutants | equivalents | accepted mutants | rejected equivalents |",
        ]
        lines.append("| --- | --- | --- | --- | --- |")
        for op, c in d["operators"].items():
            lines.append(
                f"| {op} | {c.get('mutant', 0)} | {c.get('equivalent', 0)} "
                f"| {c.get('accepted', 0)} | {c.get('rejected', 0)} |"
            )
        if d["examples"]:
            lines += ["", "Examples:", ""]
            for ex in d["examples"][:12]:
                what = "accepted mutant" if ex["wrong"] else "rejected equivalent"
                lines.append(
                    f"* {what} ({ex['operator']}): `{ex['variant']}` for `{ex['prompt']}` "
                    f"(reference `{ex['reference']}`)"
                )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="splits and mutation draws")
    parser.add_argument("--items", type=int, default=12, help="reference items per subskill")
    parser.add_argument("--code-inputs", type=int, default=400, help="inputs per code item")
    parser.add_argument("--code-mutants", type=int, default=30, help="AST mutants per item")
    parser.add_argument("--out", type=Path, default=RESULTS / "scoring_mutation")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.domains.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DOMAINS))
    if unknown:
        parser.error(f"unknown domains {unknown}; choose from {', '.join(DOMAINS)}")
    result: dict[str, Any] = {
        "meta": {
            "command": " ".join(
                ["python bench/scoring_mutation.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "seed": args.seed,
            "items_per_subskill": args.items,
            "code_inputs": args.code_inputs,
            "code_mutants": args.code_mutants,
        },
        "domains": {},
    }
    for name in names:
        result["domains"][name] = run_domain(name, args)
        total = result["domains"][name]["total"]
        print(
            f"{name}: {total.get('mutants', 0)} mutants, "
            f"score FA {total['score_false_accept_rate']}, "
            f"verify FA {total['verify_false_accept_rate']}; {total.get('equivalents', 0)} "
            f"equivalents, score FR {total['score_false_reject_rate']}, "
            f"verify FR {total['verify_false_reject_rate']}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
