"""Training step time of the built-in student per domain, by how batches are cut by length.

A batch of 64 examples is padded to its longest one; in code and tool use, whose examples
run from 20 to 80 characters, much of it is padding. ``TinyStudentConfig.length_groups``
sorts each batch by length and pads each of that many pieces only to its own longest
example. This times ``TinyStudent.fit`` on 30 data per subskill of each domain (a fresh
student, ``--steps`` steps, one thread, best of ``--repeats`` fits per setting) and reports
how far the weights end from the one-piece fit's (rounding only: the gradient is the same
sum):

    python bench/fit_speed.py
    python bench/fit_speed.py --domains code --groups 1 2 3 4 --steps 40
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import torch

import dataenvgym
from dataenvgym.protocols import ProceduralDomain
from dataenvgym.registry import STUDENT_DEFAULTS, make_domain
from dataenvgym.students.tiny import TinyStudent, TinyStudentConfig
from dataenvgym.types import TrainingDatum
from run_record import run_record

RESULTS = Path(__file__).parent / "results"
DOMAINS = ("arithmetic", "code", "tool-use")


def domain_data(name: str, per_subskill: int) -> tuple[list[TrainingDatum], dict[str, Any]]:
    """Correct data for every subskill of a domain, and its tiny-student settings."""
    domain = make_domain(name)
    assert isinstance(domain, ProceduralDomain)
    rng = random.Random(0)
    data = [
        datum
        for skill in domain.skills()
        for subskill in skill.subskills
        for datum in domain.generate(skill.name, subskill, per_subskill, rng)
    ]
    return data, dict(STUDENT_DEFAULTS.get(("tiny", name), {}).get("student", {}))


def flat(student: TinyStudent) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in student.model.parameters()])


def measure(
    name: str, groups: list[int], steps: int, repeats: int, per_subskill: int
) -> list[dict[str, Any]]:
    """One row per setting of ``length_groups``: ms a step and the weights' distance."""
    data, settings = domain_data(name, per_subskill)
    lengths = [len(d.prompt) + len(d.response) for d in data]
    rows = []
    reference: torch.Tensor | None = None
    for count in groups:
        best = float("inf")
        weights = None
        for _ in range(repeats):
            student = TinyStudent(TinyStudentConfig(**settings, length_groups=count))
            started = time.perf_counter()
            student.fit(data, steps=steps, seed=1)
            best = min(best, time.perf_counter() - started)
            weights = flat(student)
        assert weights is not None
        if count == 1:
            reference = weights
        rows.append(
            {
                "domain": name,
                "length_groups": count,
                "data": len(data),
                "mean_chars": round(sum(lengths) / len(lengths), 1),
                "longest_chars": max(lengths),
                "steps": steps,
                "ms_per_step": round(1000 * best / steps, 1),
                "max_weight_difference": (
                    None if reference is None else float((weights - reference).abs().max())
                ),
            }
        )
        print(rows[-1], flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """One row per domain and setting, with the speed-up over one piece."""
    one = {r["domain"]: r["ms_per_step"] for r in rows if r["length_groups"] == 1}
    out = [
        "| domain | length groups | ms per step | speed-up | largest weight difference |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        speed = f"{one[r['domain']] / r['ms_per_step']:.2f}×" if r["domain"] in one else ""
        diff = r["max_weight_difference"]
        shown = "" if diff is None else ("0 (itself)" if diff == 0 else f"{diff:.1e}")
        out.append(
            f"| {r['domain']} | {r['length_groups']} | {r['ms_per_step']:.0f} | {speed} | {shown} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--groups", nargs="*", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--per-subskill", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS / "fit_speed")
    args = parser.parse_args()
    if 1 not in args.groups:
        parser.error("--groups needs 1 (the reference the others are compared with)")
    torch.set_num_threads(1)
    groups = [1, *(g for g in args.groups if g != 1)]
    record = run_record(
        dataenvgym=getattr(dataenvgym, "__version__", "?"),
        numerics=os.environ.get("ATEN_CPU_CAPABILITY", "native") + " CPU kernels, one thread",
    )
    rows = [
        row
        for name in args.domains
        for row in measure(name, groups, args.steps, args.repeats, args.per_subskill)
    ]
    args.out.with_suffix(".json").write_text(json.dumps({**record, "rows": rows}, indent=2) + "\n")
    text = (
        f"Training steps of a fresh student on {args.per_subskill} data per subskill, batch "
        f"64, {args.steps} steps, one thread, best of {args.repeats} fits per setting. "
        "Largest weight difference: after the fit, against the one-piece fit.\n\n"
        f"- `{record['command']}`, {record['date']}, {record['machine']}, "
        f"{record['numerics']}\n\n{table(rows)}\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(table(rows))


if __name__ == "__main__":
    main()
