"""How an episode's wall time grows with the data budget and with the validation size.

Skill-Tree, with-state agent, built-in arithmetic and the default student; the base student
is pretrained (and cached) before timing, so the times are the episode's own: the agent
writing data, training, validating after every step and scoring the test split at the end.

    python bench/episode_scaling.py
    python bench/episode_scaling.py --budgets 96 384 1536 --val-sizes 25 100 400 --threads 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from dataenvgym.config import RunConfig
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode


def episode(budget: int, val_per_subskill: int, args: argparse.Namespace) -> dict[str, Any]:
    config = RunConfig(
        budget=budget,
        iterations=args.iterations,
        trainer={"mode": args.mode, "steps_per_iteration": args.steps},  # type: ignore[arg-type]
        pretrain={"steps": 200, "examples": 8000},
        domain_config={"val_per_subskill": val_per_subskill, "test_per_subskill": 50},
        test_every_iteration=False,
    )
    make_env(**config.env_kwargs()).reset(seed=0)  # pretrain and cache the base student
    env = make_env(**config.env_kwargs())
    agent = make_agent(config.agent, config.env, env.domain)
    summary = run_episode(env, agent, seed=0)
    train = sum(row["train_seconds"] or 0.0 for row in summary["iterations"])
    total = summary["wall_seconds"] - summary["base_student_seconds"]
    return {
        "budget": budget,
        "val": val_per_subskill * 10,
        "episode": total,
        "train": train,
        "other": total - train,
        "data": summary["total_training_data"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budgets", type=int, nargs="*", default=[96, 192, 384, 768])
    parser.add_argument("--val-sizes", type=int, nargs="*", default=[25, 50, 100, 200])
    parser.add_argument("--fixed-budget", type=int, default=384)
    parser.add_argument("--fixed-val", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--mode", choices=["continue", "retrain"], default="continue")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("DATAENVGYM_CACHE", str(Path(tempfile.mkdtemp()) / "cache"))
    print(f"load before: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} CPUs)")
    print(
        f"{args.iterations} iterations × {args.steps} steps ({args.mode}), "
        f"{args.threads} torch thread(s)\n"
    )
    rows = [episode(b, args.fixed_val, args) for b in args.budgets]
    rows += [episode(args.fixed_budget, v, args) for v in args.val_sizes]
    print("| data per iteration | validation items | episode s | training s | other s | data |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['budget']} | {r['val']} | {r['episode']:.1f} | {r['train']:.1f} | "
            f"{r['other']:.1f} | {r['data']} |"
        )
    print(f"\nload after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
