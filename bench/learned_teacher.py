"""The learned teacher against the with-state agent, on seeds and a domain it never trained on.

Plays the shipped ``learned`` agent and the built-in ``with-state`` agent on each held-out
setting and seed (the same short episodes as training: 3 iterations of the domain's default
budget), then writes, per setting, the paired difference learned − with-state over the seeds
(mean and 95 % t interval) of final test accuracy and of final validation accuracy, whether
the setting's domain was unseen in training, and the training cost (episodes, wall time, from
the training folder's learning curve).

    python bench/learned_teacher.py                    # every agent, setting and seed
    python bench/learned_teacher.py --agents with-state  # one agent; rows merge by key

Episodes already in the output (same setting, agent, seed, iterations, agent revision) are
kept and not played again, so the agents may be run apart. One process, one torch thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dataenvgym.agents.learned.agent import LEARNED_REVISION, load_params
from dataenvgym.agents.learned.episodes import Setting, play
from dataenvgym.scoring import t_interval

OUT = Path("bench/results/learned_teacher.json")
TRAINING = Path("bench/results/learned_teacher/learning_curve.json")
CHECKPOINT = Path("src/dataenvgym/agents/learned/teacher.json")
SETTINGS = "skill-list/arithmetic,skill-tree/arithmetic,skill-list/tool-use"
AGENTS = ("learned", "with-state")


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["setting"], row["agent"], row["seed"], row["iterations"], row["agent_revision"])


def _row(setting: Setting, agent: str, seed: int, iterations: int) -> dict[str, Any]:
    summary = play(setting, seed, agent=agent, iterations=iterations)
    return {
        "setting": setting.label(),
        "agent": agent,
        "seed": seed,
        "iterations": iterations,
        "agent_revision": summary["agent_revision"],
        "budget": summary["total_training_data"] // iterations,
        "initial_test": summary["initial"]["test_accuracy"],
        "final_test": summary["final"]["test_accuracy"],
        "initial_val": summary["initial"]["val_accuracy"],
        "final_val": summary["final"]["val_accuracy"],
        "wall_seconds": round(summary["wall_seconds"], 1),
        "numerics": summary["numerics"],
    }


def _paired(rows: list[dict[str, Any]], label: str, field: str) -> dict[str, Any] | None:
    by = {(r["agent"], r["seed"]): r[field] for r in rows if r["setting"] == label}
    seeds = sorted({s for a, s in by if a == "learned"} & {s for a, s in by if a == "with-state"})
    if not seeds:
        return None
    diffs = [by[("learned", s)] - by[("with-state", s)] for s in seeds]
    result = t_interval(diffs)
    return {
        "mean": round(result.mean, 4),
        "half_width": round(result.half_width, 4) if len(diffs) > 1 else None,
        "low": round(result.low, 4) if len(diffs) > 1 else None,
        "high": round(result.high, 4) if len(diffs) > 1 else None,
        "seeds": seeds,
        "per_seed": [round(d, 4) for d in diffs],
    }


def summarize(rows: list[dict[str, Any]], settings: list[Setting]) -> dict[str, Any]:
    """Per setting, the paired differences; over settings, their mean."""
    from dataenvgym.agents.learned.cem import CEMState

    state = CEMState.model_validate_json(CHECKPOINT.read_text())
    trained = {s["domain"] for s in state.settings.get("settings", [])}
    held_out: list[dict[str, Any]] = []
    for setting in settings:
        label = setting.label()
        test, val = _paired(rows, label, "final_test"), _paired(rows, label, "final_val")
        if test is None or val is None:
            continue
        held_out.append(
            {
                "setting": label,
                "unseen_domain": setting.domain not in trained,
                "learned_minus_with_state_test": test,
                "learned_minus_with_state_val": val,
                "interval_above_zero": test["low"] is not None and test["low"] > 0,
            }
        )
    curve = json.loads(TRAINING.read_text()) if TRAINING.exists() else {}
    means = [h["learned_minus_with_state_test"]["mean"] for h in held_out]
    return {
        "metric": "final test accuracy, learned − with-state, paired by seed; "
        "± is the half-width of a 95 % t interval over seeds",
        "held_out": held_out,
        "mean_over_settings": round(sum(means) / len(means), 4) if means else None,
        "settings_with_interval_above_zero": sum(h["interval_above_zero"] for h in held_out),
        "training": {
            "settings": state.settings.get("settings"),
            "seeds": state.settings.get("seeds"),
            "iterations": state.settings.get("iterations"),
            "generations": state.generation,
            "population": state.config.population,
            "episodes": curve.get("episodes"),
            "wall_seconds": curve.get("wall_seconds"),
        },
        "theta": load_params(CHECKPOINT).theta,
        "learned_revision": LEARNED_REVISION,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", default=SETTINGS, help="ENV/DOMAIN, comma-separated")
    parser.add_argument("--seeds", default="100,101,102,103,104")
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    settings = [
        Setting.model_validate({"env": env, "domain": domain})
        for env, _, domain in (s.strip().partition("/") for s in args.settings.split(","))
    ]
    seeds = [int(s) for s in args.seeds.split(",")]
    agents = args.agents.split(",")
    saved = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows: list[dict[str, Any]] = saved.get("rows", [])
    revisions = {"learned": LEARNED_REVISION, "with-state": None}
    started = time.perf_counter()
    for setting in settings:
        for seed in seeds:
            for agent in agents:
                wanted = {
                    "setting": setting.label(),
                    "agent": agent,
                    "seed": seed,
                    "iterations": args.iterations,
                }
                if any(
                    all(r[k] == v for k, v in wanted.items())
                    and (agent != "learned" or r["agent_revision"] == revisions["learned"])
                    for r in rows
                ):
                    continue
                row = _row(setting, agent, seed, args.iterations)
                rows = [r for r in rows if _key(r) != _key(row)] + [row]
                print(json.dumps({k: row[k] for k in [*wanted, "final_test"]}), flush=True)
                result = {**summarize(rows, settings), "rows": rows}
                args.out.write_text(json.dumps(result, indent=1) + "\n")
    result = {**summarize(rows, settings), "rows": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
