"""Does a bigger data budget teach more, and does a small one never unteach?

Skill-Tree, the no-state agent, built-in arithmetic and the default student, with the
trainer's default step rule (epochs over the data, bounded; ``docs/training.md``). For each
budget per iteration, trainer mode and seed it runs one episode and records the test gain
(final − initial test accuracy, in points). The base student of each seed is pretrained once
and cached, so every budget starts from the same student. ``--fixed-steps N`` adds the old
rule (N steps whatever the data) for comparison.

    nice python bench/budget_scaling.py
    nice python bench/budget_scaling.py --budgets 32 384 --seeds 0 --modes retrain

Writes ``bench/results/budget_scaling.{json,md}``; "±" is the half-width of a 95 % t
interval over seeds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from dataenvgym.config import RunConfig
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import EpisodeHooks, run_episode
from dataenvgym.scoring import t_interval

RESULTS = Path(__file__).parent / "results"


def episode(job: dict[str, Any]) -> dict[str, Any]:
    """One episode; returns its gain, steps and time."""
    torch.set_num_threads(job["threads"])
    rule: dict[str, Any] = {"mode": job["mode"]}
    if job["fixed_steps"] is not None:
        rule["steps_per_iteration"] = job["fixed_steps"]
    config = RunConfig(
        env="skill-tree",
        agent="no-state",
        budget=job["budget"],
        iterations=job["iterations"],
        seed=job["seed"],
        trainer=rule,  # type: ignore[arg-type]
        test_every_iteration=False,
    )
    env = make_env(**config.env_kwargs())
    agent = make_agent(config.agent, config.env, env.domain)
    steps: list[int] = []
    trainer = env.unwrapped.trainer  # type: ignore[attr-defined]
    hooks = EpisodeHooks(on_iteration_end=lambda _i, _row: steps.append(trainer.planned_steps))
    started = time.perf_counter()
    summary = run_episode(env, agent, seed=config.seed, test_every_iteration=False, hooks=hooks)
    rows = summary["iterations"]
    return {
        **{k: job[k] for k in ("budget", "mode", "seed", "fixed_steps")},
        "initial_test": summary["initial"]["test_accuracy"],
        "final_test": summary["final"]["test_accuracy"],
        "gain_points": 100
        * (summary["final"]["test_accuracy"] - summary["initial"]["test_accuracy"]),
        "steps": steps,
        "train_seconds": sum(r["train_seconds"] or 0.0 for r in rows),
        "episode_seconds": time.perf_counter() - started - summary["base_student_seconds"],
        "base_seconds": summary["base_student_seconds"],
    }


def warm_base(seed: int, threads: int) -> None:
    """Pretrain (or find cached) the base student of ``seed``."""
    torch.set_num_threads(threads)
    config = RunConfig(env="skill-tree", agent="no-state", seed=seed)
    make_env(**config.env_kwargs()).reset(seed=seed)


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    arms = sorted({(r["mode"], r["fixed_steps"] or 0, r["budget"]) for r in results})
    for mode, fixed, budget in arms:
        runs = [
            r
            for r in results
            if (r["mode"], r["fixed_steps"] or 0, r["budget"]) == (mode, fixed, budget)
        ]
        gain = t_interval([r["gain_points"] for r in runs])
        table.append(
            {
                "mode": mode,
                "rule": f"fixed {fixed}" if fixed else "epochs",
                "budget": budget,
                "seeds": len(runs),
                "gain_mean": gain.mean,
                "gain_half_width": gain.half_width,
                "gains": [round(r["gain_points"], 2) for r in runs],
                "steps_seed0": next(r["steps"] for r in runs),
                "episode_seconds_mean": sum(r["episode_seconds"] for r in runs) / len(runs),
            }
        )
    return table


def markdown(meta: dict[str, Any], table: list[dict[str, Any]]) -> str:
    lines = [
        "# Test gain against the data budget",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; machine: {meta['machine']}; torch {meta['torch']}; "
        f"wall time {meta['wall_seconds'] / 60:.1f} min (load average {meta['load_before']:.1f} "
        f"at start on {meta['cpus']} CPUs).",
        "",
        f"Skill-Tree, no-state agent, built-in arithmetic and student, {meta['iterations']} "
        "iterations, seeds " + ", ".join(map(str, meta["seeds"])) + ". Gain: final − initial "
        "test accuracy in points; ± is the half-width of a 95 % t interval over seeds. Steps: "
        "optimiser steps of each iteration, seed 0.",
        "",
        "| mode | steps rule | budget / iteration | test gain (points) | per seed | "
        "steps per iteration | episode s |",
        "| --- | --- | ---: | ---: | --- | --- | ---: |",
    ]
    for row in table:
        lines.append(
            f"| {row['mode']} | {row['rule']} | {row['budget']} | "
            f"{row['gain_mean']:+.1f} ± {row['gain_half_width']:.1f} | "
            f"{', '.join(f'{g:+.1f}' for g in row['gains'])} | "
            f"{', '.join(str(s) for s in row['steps_seed0'])} | "
            f"{row['episode_seconds_mean']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def write(
    args: argparse.Namespace, results: list[dict[str, Any]], started: float, load_before: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write what has finished so far (an interrupted run keeps its episodes)."""
    table = summarise(results)
    meta = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "iterations": args.iterations,
        "seeds": args.seeds,
        "wall_seconds": time.perf_counter() - started,
        "load_before": load_before,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "table": table, "episodes": results}, indent=2) + "\n"
    )
    args.out.with_suffix(".md").write_text(markdown(meta, table))
    return meta, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budgets", type=int, nargs="+", default=[32, 64, 128, 384, 1024])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument(
        "--modes", nargs="+", choices=["continue", "retrain"], default=["continue", "retrain"]
    )
    parser.add_argument("--fixed-steps", type=int, default=None, help="Also run this fixed rule.")
    parser.add_argument("--workers", type=int, default=2, help="Episodes run at once.")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per episode.")
    parser.add_argument("--out", type=Path, default=RESULTS / "budget_scaling")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rules: list[int | None] = [None] + ([args.fixed_steps] if args.fixed_steps else [])
    jobs = [
        {
            "budget": budget,
            "mode": mode,
            "seed": seed,
            "fixed_steps": fixed,
            "iterations": args.iterations,
            "threads": args.threads,
        }
        for fixed in rules
        for mode in args.modes
        for budget in args.budgets
        for seed in args.seeds
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(warm_base, args.seeds, [args.threads] * len(args.seeds)))
        results = []
        for result in pool.map(episode, jobs):
            results.append(result)
            print(
                f"{result['mode']:8} fixed={result['fixed_steps']} budget={result['budget']:5} "
                f"seed={result['seed']}: {result['gain_points']:+.1f} points, "
                f"steps {result['steps']}, {result['episode_seconds']:.0f} s",
                flush=True,
            )
            write(args, results, started, load_before)
    print(markdown(*write(args, results, started, load_before)))


if __name__ == "__main__":
    main()
