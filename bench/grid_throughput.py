"""One board of small episodes with the local executor (2 worker processes) and with Ray
(a private cluster on this machine, 2 CPUs), on the same cores, in one run.

The board is arithmetic × (skill-list, skill-tree) × (no-state, oracle) × 2 seeds: 8
episodes, 2 base students. Each mode starts from an empty base-student cache, so both pay
for pretraining. The Ray wall time is the whole ``run_suite`` call, its cluster's start
included; the cluster start is also timed on its own (a separate start and stop of the same
private cluster), reported beside it and not subtracted. The bench checks that both modes
give the same test accuracies, episode by episode.

    python bench/grid_throughput.py        # writes bench/results/grid_throughput.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = "python bench/grid_throughput.py"

SUITE: dict[str, Any] = {
    "name": "grid-bench",
    "domains": ["arithmetic"],
    "envs": ["skill-list", "skill-tree"],
    "seeds": [0, 1],
    "agents": ["no-state"],  # and the oracle, a reference every board has
    "base": {
        "iterations": 2,
        "budget": 64,
        "trainer": {"steps_per_iteration": 20},
        "student_config": {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 32},
        "pretrain": {"steps": 60, "examples": 1000},
        "domain_config": {"val_per_subskill": 10, "test_per_subskill": 10},
        "test_every_iteration": False,
    },
}


def _board(root: Path, name: str, **grid: Any) -> tuple[float, dict[str, Any]]:
    """Run the suite into ``root/name`` with its own empty cache; (seconds, accuracies)."""
    from dataenvgym.leaderboard.suite import LeaderboardSuite, check_suite, run_suite

    os.environ["DATAENVGYM_CACHE"] = str(root / f"cache-{name}")
    episodes = check_suite(LeaderboardSuite.model_validate(SUITE))
    started = time.perf_counter()
    results = run_suite(episodes, root / name, threads=1, numerics="portable", **grid)
    seconds = time.perf_counter() - started
    failed = [r.error for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} episodes failed: {failed[0]}")
    accuracies = {
        r.episode.folder_name: [
            r.summary["initial"]["test_accuracy"],
            r.summary["final"]["test_accuracy"],
        ]
        for r in results
        if r.summary is not None
    }
    return seconds, accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # one torch thread per episode, in every mode
    from dataenvgym.grid import ray_session
    from dataenvgym.numerics import describe, numerics_environment

    os.environ.update(numerics_environment("portable"))
    root = Path(tempfile.mkdtemp(prefix="grid-bench-"))
    load_before = os.getloadavg()[0]
    local_s, local = _board(root, "local", workers=2)

    started = time.perf_counter()
    with ray_session(num_cpus=2):
        up = time.perf_counter() - started
    cluster_start_s = up

    ray_s, on_ray = _board(root, "ray", workers=2, executor="ray")
    load_after = os.getloadavg()[0]
    numerics = describe()
    result = {
        "command": COMMAND,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} CPU with {os.cpu_count()} cores (load average "
        f"{load_before:.1f} before, {load_after:.1f} after)",
        "torch": numerics["torch"],
        "numerics": "portable (AVX2 caps), one torch thread per episode",
        "episodes": len(local),
        "suite": SUITE,
        "local_workers": 2,
        "ray_cpus": 2,
        "local_wall_s": round(local_s, 1),
        "ray_wall_s": round(ray_s, 1),
        "ray_wall_includes_cluster_start": True,
        "cluster_start_s": round(cluster_start_s, 1),
        "same_accuracies": local == on_ray,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grid_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Grid throughput: local executor vs Ray",
        "",
        f"{result['episodes']} small episodes of one board (arithmetic, skill-list and "
        "skill-tree, no-state and the oracle, seeds 0 and 1), one torch thread each, on "
        f"{result['machine']}.",
        "",
        "| mode | wall s |",
        "| --- | --- |",
        f"| local executor, 2 worker processes | {result['local_wall_s']} |",
        f"| Ray, private cluster of 2 CPUs (its start included) | {result['ray_wall_s']} |",
        f"| Ray cluster start alone (not subtracted above) | {result['cluster_start_s']} |",
        "",
        f"Same test accuracies, episode by episode: {result['same_accuracies']}.",
        "",
        f"Made by `{COMMAND}` on {result['date']}; torch {result['torch']}.",
    ]
    (args.out / "grid_throughput.md").write_text("\n".join(lines) + "\n")
    # The .md's provenance, where the rendered results' provenance lives (the JSON has its own).
    table_path = args.out / "provenance.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    table["grid_throughput.md"] = {
        k: result[k] for k in ("command", "date", "machine", "torch", "numerics")
    }
    table_path.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
