"""The built-in VQA student on a real test set: easy-vqa, before and after a teaching episode.

Runs one VQA episode (rendered scenes, offline teacher) and scores the base student and the
taught student on easy-vqa's held-out images, per question type. easy-vqa's images are
drawn by another program and its questions are phrased differently ("does the image not
contain a circle?"), so this measures transfer, not fit.

    python bench/vqa_easy_vqa.py --seed 0 --env skill-tree --agent with-state
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from dataenvgym.config import RunConfig
from dataenvgym.domains.vqa.easy_vqa import EasyVQAConfig, EasyVQADomain
from dataenvgym.evaluation import DomainEvaluator
from dataenvgym.registry import make_agent, make_env
from dataenvgym.runner import run_episode
from dataenvgym.students.vqa import VQAStudent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default="skill-tree")
    parser.add_argument("--agent", default="with-state")
    parser.add_argument("--per-subskill", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/vqa_easy_vqa.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    config = RunConfig(
        domain="vqa", env=args.env, agent=args.agent, seed=args.seed, test_every_iteration=False
    )
    env = make_env(**config.env_kwargs())
    agent = make_agent(config.agent, config.env, env.domain)
    summary = run_episode(env, agent, seed=args.seed, test_every_iteration=False)
    taught = env.student
    if not isinstance(taught, VQAStudent):
        raise SystemExit(f"this benchmark is for the tiny-vqa student, not {type(taught)}")
    base = VQAStudent(taught.config)
    base.load(env.base.checkpoint)

    easy = EasyVQADomain(EasyVQAConfig(val_per_subskill=1, test_per_subskill=args.per_subskill))
    _, test = easy.splits(args.seed)
    evaluator = DomainEvaluator(easy)
    reports = {
        name: evaluator.evaluate(s, test).report for name, s in (("base", base), ("taught", taught))
    }
    rows: list[dict[str, Any]] = []
    print(f"| easy-vqa question type | n | base | after the {args.env} episode |")
    print("| --- | --- | --- | --- |")
    for key, stats in reports["base"].per_subskill.items():
        after = reports["taught"].per_subskill[key].accuracy
        print(f"| {key} | {stats.count} | {stats.accuracy:.3f} | {after:.3f} |")
        rows.append({"type": key, "n": stats.count, "base": stats.accuracy, "taught": after})
    overall = (reports["base"].accuracy, reports["taught"].accuracy)
    print(f"| **all** | {reports['base'].count} | {overall[0]:.3f} | {overall[1]:.3f} |")
    print(
        f"\nbuilt-in VQA test: {summary['initial']['test_accuracy']:.3f} -> "
        f"{summary['final']['test_accuracy']:.3f}; {time.perf_counter() - started:.0f} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "seed": args.seed,
                "env": args.env,
                "agent": args.agent,
                "easy_vqa": {"base": overall[0], "taught": overall[1], "per_type": rows},
                "vqa_test": [
                    summary["initial"]["test_accuracy"],
                    summary["final"]["test_accuracy"],
                ],
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
