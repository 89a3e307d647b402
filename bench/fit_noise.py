"""How much of a student's score after one teaching step is the luck of its training.

From a seed's base student, one Skill-Tree step's data (the same share for every subskill,
written by the built-in engine) is fitted ``--fits`` times, each time from the base student
with another training seed (the batches drawn), and scored on the test split. The spread of
those scores is noise that no teacher causes: it sits in every gap between two teachers, and
only more seeds average it out. Student settings to compare are ``--variant NAME=JSON``
(fields of the student's config, e.g. ``{"average_last": 0.5}``); every variant fits the same
data from its own base student.

    python bench/fit_noise.py --seed 10 --fits 12 --variant averaged='{"average_last": 0.5}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from run_record import run_record
from unit_tilt import first_step, make_skill_tree_env, named_object, tilted, units

# domain, seed, variant name, student config, trainer mode, fits
Task = tuple[str, int, str, dict[str, Any], str | None, int]


def _fits(task: Task) -> dict[str, Any]:
    import torch

    domain, seed, name, student, mode, fits = task
    torch.set_num_threads(1)
    env, observation = make_skill_tree_env(domain, seed, mode, student_config=student)
    counts = tilted(sorted(units(env)), env.config.budget_per_iteration, None, 1.0)
    action = first_step(env, observation, counts, seed)
    base = env.student.clone_weights()
    scores, seconds = [], []
    for fit_seed in range(fits):
        env.student.restore_weights(base)
        started = time.perf_counter()
        # The same data and trainer as the environment's step; only the batches differ.
        env.trainer.train(
            env.student, action.data, action.data, base=env.base, iteration=1, seed=1000 * fit_seed
        )
        seconds.append(time.perf_counter() - started)
        scores.append(env.evaluate_test().report.accuracy)
    return {
        "domain": domain,
        "seed": seed,
        "variant": name,
        "student_config": student,
        "trainer_mode": env.trainer.config.mode,
        "scores": scores,
        "mean": statistics.fmean(scores),
        "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
        "fit_seconds": statistics.fmean(seconds),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | student settings | fits | mean test accuracy | SD (pts) | s per fit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | `{json.dumps(row['student_config'])}` | {len(row['scores'])} "
            f"| {row['mean']:.3f} | {100 * row['sd']:.2f} | {row['fit_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="arithmetic")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--fits", type=int, default=12)
    parser.add_argument("--trainer-mode", choices=["continue", "retrain"], default=None)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/fit_noise.json"))
    args = parser.parse_args()
    if args.fits < 2:
        parser.error("--fits must be at least 2 to measure a spread")
    variants: dict[str, dict[str, Any]] = {"default": {}}
    try:
        variants.update(named_object(item) for item in args.variant)
    except ValueError as err:
        parser.error(f"--variant {err}")
    meta = run_record(workers=args.workers)
    tasks: list[Task] = [
        (args.domain, args.seed, name, fields, args.trainer_mode, args.fits)
        for name, fields in variants.items()
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(_fits, tasks))
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    text = (
        f"# Training noise of one step ({args.domain}; bench/fit_noise.py)\n\n"
        f"Seed {args.seed}: one Skill-Tree step's uniform data fitted {args.fits} times from "
        f"the base student with other training seeds, the {rows[0]['trainer_mode']} trainer; "
        "SD is the standard deviation of the test accuracy over those fits.\n\n"
        f"- `{meta['command']}` — {meta['date']}, {meta['machine']}, torch {meta['torch']}.\n\n"
        f"{table(rows)}\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(table(rows))


if __name__ == "__main__":
    main()
