"""8 small episodes one after another vs as Ray tasks on this machine's cores.

The grid is 2 envs × 2 agents × 2 seeds of a small episode (built-in arithmetic, the default
student). Both base students are pretrained and cached first, so every mode times episodes
only. Sequential runs in one process with torch on ``--seq-threads`` threads (default: all
cores); Ray runs one episode per core with one torch thread each. The Ray time includes
starting the local cluster, which is also shown on its own. Episodes must be long enough
(``--steps``) that a Ray worker's start (importing torch) is small beside them.

    python bench/sweep_throughput.py --seq-threads 2 1   # 2 cores: ray.init(num_cpus=2)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from dataenvgym.sweep import SweepConfig, SweepResources, ray_session, run_sweep, warm_base_student

BASE = {
    "iterations": 2,
    "budget": 96,
    "pretrain": {"steps": 200, "examples": 8000},
    "domain_config": {"val_per_subskill": 30, "test_per_subskill": 30},
    "test_every_iteration": False,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--seq-threads", type=int, nargs="*", default=None, help="default: one run, all cores"
    )
    parser.add_argument("--steps", type=int, default=120, help="training steps per iteration")
    args = parser.parse_args()
    cores = args.cores
    grid: dict[str, list[Any]] = {
        "env": ["skill-list", "skill-tree"],
        "agent": ["with-state", "no-state"],
        "seed": [0, 1],
    }
    root = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    os.environ.setdefault("DATAENVGYM_CACHE", str(root / "cache"))
    print(f"load before: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} CPUs)")
    episode_settings = {**BASE, "trainer": {"steps_per_iteration": args.steps}}
    sweep = SweepConfig(name="bench", base=episode_settings, grid=grid)
    for cfg in {cfg.seed: cfg for _, cfg in sweep.episodes()}.values():  # one per seed
        # One thread: on a busy machine more would only wait on each other (not timed).
        warm_base_student(cfg.model_dump(mode="json"), 1)

    sequential: dict[int, float] = {}
    seq_rows: dict[int, list[dict]] = {}
    for threads in args.seq_threads or [cores]:
        resources = SweepResources(cpus_per_episode=threads)
        started = time.perf_counter()
        seq_rows[threads] = run_sweep(
            sweep.model_copy(update={"resources": resources}), root / f"sequential-{threads}"
        )
        sequential[threads] = time.perf_counter() - started

    started = time.perf_counter()
    with ray_session(num_cpus=cores):
        pass
    init = time.perf_counter() - started
    parallel = sweep.model_copy(update={"resources": SweepResources(cpus_per_episode=1)})
    started = time.perf_counter()
    ray_rows = run_sweep(parallel, root / "ray", executor="ray", num_cpus=cores)
    ray = time.perf_counter() - started
    # Ray gives each episode one thread; results are bit-identical only to a sequential run
    # on the same number of threads (float sums are ordered by the thread split).
    compared = 1 if 1 in seq_rows else min(seq_rows)
    same = [r["final_test"] for r in seq_rows[compared]] == [r["final_test"] for r in ray_rows]

    base = sequential[max(sequential)]  # the all-cores sequential run is the baseline
    print(f"load after: {os.getloadavg()[0]:.1f}\n")
    rows = [
        (f"sequential, 1 process × {threads} torch threads", seconds)
        for threads, seconds in sorted(sequential.items())
    ]
    rows += [
        (f"Ray, {cores} tasks × 1 thread, {label}", seconds)
        for label, seconds in (("incl. cluster start", ray), ("excl. cluster start", ray - init))
    ]
    # Against the all-cores sequential run and, when it ran, the one-thread one (the rate
    # of one episode at a time with no intra-op parallelism).
    one = sequential.get(1)
    extra = " speedup over 1-thread sequential |" if one else ""
    print(f"| mode | wall s (8 episodes) | per episode s | speedup |{extra}")
    print("| --- | --- | --- | --- |" + (" --- |" if one else ""))
    for label, seconds in rows:
        over_one = f" {one / seconds:.2f}× |" if one else ""
        print(f"| {label} | {seconds:.1f} | {seconds / 8:.1f} | {base / seconds:.2f}× |{over_one}")
    print(
        f"\n{args.steps} training steps per iteration; Ray cluster start: {init:.1f} s; "
        f"same final test accuracies as sequential on {compared} thread(s): {same}"
    )


if __name__ == "__main__":
    main()
