"""What tilting one iteration's data towards one unit buys: a domain's map for teachers.

A teacher's state can only pay where moving data between units changes the score. This
benchmark measures that directly, one unit at a time. For each seed, from the base student,
it plays one Skill-Tree step with uniform data (every subskill the same share of the
budget) and, for each subskill ``u``, one step in which ``u`` gets ``--tilt`` fair shares and
the rest of the budget is spread evenly over the other subskills. Against the uniform step:

* **own**: the change of ``u``'s own test accuracy (what the extra data buys it),
* **others**: the mean change of the other subskills (what the data taken from them, and any
  interference from ``u``'s data, costs them),
* **net**: the change of the overall test accuracy (own and others weighted as in the score).

A unit with a large own gain and a net above 0 is one a teacher should feed; a mastered or
out-of-reach unit gains nothing; a net below 0 beside a large own gain means the unit's data
hurts its neighbours (interference). Per unit, the table gives the mean over seeds ± the
half-width of a 95 % t interval, and the base student's accuracy.

    python bench/unit_tilt.py --seeds 10 11 12 --workers 2
    python bench/unit_tilt.py --domain tool-use --trainer-mode retrain --seeds 10 11
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dataenvgym.scoring import t_interval
from run_record import run_record

UNIFORM = "(uniform)"

# domain, seed, trainer mode (None: the default), tilt, threads
Task = tuple[str, int, str | None, float, int]


def tilted(keys: list[str], budget: int, unit: str | None, tilt: float) -> dict[str, int]:
    """``unit`` gets ``tilt`` fair shares, the rest is even over the others (``None``: all
    even); the counts sum to ``budget``."""
    from dataenvgym.agents.allocation import largest_remainder

    if unit is None:
        return largest_remainder(dict.fromkeys(keys, 1.0), budget)
    share = min(tilt / len(keys), 1.0)
    others = [k for k in keys if k != unit]
    rest = (1.0 - share) / len(others) if others else 0.0
    return largest_remainder({k: share if k == unit else rest for k in keys}, budget)


def units(env: Any) -> dict[str, tuple[str, str, str]]:
    """``skill/subskill`` -> (skill, subskill, description) of an environment's skills."""
    from dataenvgym.types import subskill_key

    return {
        subskill_key(s.name, sub): (s.name, sub, text)
        for s in env.skills
        for sub, text in s.subskills.items()
    }


def first_step(env: Any, observation: Any, counts: Mapping[str, int], seed: int) -> Any:
    """A first Skill-Tree action that explores every unit with ``counts`` data, its data
    written by the built-in engine (as for every offline agent)."""
    from dataenvgym.agents.procedural import ProceduralEngine
    from dataenvgym.types import NewSubskill, SkillTreeAction

    explore: dict[str, list[NewSubskill]] = {}
    for key, (skill, sub, text) in units(env).items():
        explore.setdefault(skill, []).append(
            NewSubskill(name=sub, description=text, allocation=counts.get(key, 0))
        )
    plan = SkillTreeAction(explore=explore)
    data = ProceduralEngine(env.domain).generate(plan, observation, seed=seed)
    return plan.model_copy(update={"data": data})


def make_skill_tree_env(domain: str, seed: int, mode: str | None, **config: Any) -> tuple[Any, Any]:
    """The Skill-Tree environment of ``domain``'s default episode (other trainer ``mode`` and
    ``config`` fields of a run config if given), reset to ``seed``, and its first
    observation."""
    from dataenvgym.config import RunConfig
    from dataenvgym.registry import make_env

    run = RunConfig.model_validate(
        {"env": "skill-tree", "domain": domain, "seed": seed, **config}
        | ({"trainer": {"mode": mode}} if mode else {})
    )
    env = make_env(**run.env_kwargs())
    observation, _ = env.reset(seed=seed)
    return env, observation


def _seed_rows(task: Task) -> list[dict[str, Any]]:
    """The uniform step and one tilted step per subskill, for one seed."""
    import torch

    domain, seed, mode, tilt, threads = task
    torch.set_num_threads(threads)
    env, _ = make_skill_tree_env(domain, seed, mode)
    base = env.evaluate_test().report.per_subskill
    keys = sorted(units(env))
    rows = []
    for unit in [None, *keys]:
        counts = tilted(keys, env.config.budget_per_iteration, unit, tilt)
        started = time.perf_counter()
        observation, _ = env.reset(seed=seed)
        env.step(first_step(env, observation, counts, seed))
        after = env.evaluate_test().report
        rows.append(
            {
                "domain": domain,
                "seed": seed,
                "trainer_mode": env.trainer.config.mode,
                "unit": unit or UNIFORM,
                "data": counts[unit] if unit else None,
                "accuracy": after.accuracy,
                "per_subskill": {k: v.accuracy for k, v in after.per_subskill.items()},
                "base_per_subskill": {k: v.accuracy for k, v in base.items()},
                "seconds": time.perf_counter() - started,
            }
        )
    return rows


def effects(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per unit, per seed: own, others and net change (points) against that seed's uniform
    step, and the base student's accuracy on the unit."""
    uniform = {(r["domain"], r["seed"]): r for r in rows if r["unit"] == UNIFORM}
    out: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row["unit"] == UNIFORM:
            continue
        ref = uniform[(row["domain"], row["seed"])]
        unit = row["unit"]
        change = {k: row["per_subskill"][k] - ref["per_subskill"][k] for k in row["per_subskill"]}
        others = [v for k, v in change.items() if k != unit]
        entry = out.setdefault(unit, {"own": [], "others": [], "net": [], "base": []})
        entry["own"].append(100 * change[unit])
        entry["others"].append(100 * statistics.fmean(others) if others else 0.0)
        entry["net"].append(100 * (row["accuracy"] - ref["accuracy"]))
        entry["base"].append(row["base_per_subskill"][unit])
    return out


def _cell(values: list[float]) -> str:
    interval = t_interval(values)
    if interval.n < 2:
        return f"{interval.mean:+.1f}"
    return f"{interval.mean:+.1f} ± {interval.half_width:.1f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`effects`, units in the domain's order."""
    lines = [
        "| unit | base accuracy | own (pts) | others (pts) | net (pts) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for unit, entry in sorted(effects(rows).items()):
        lines.append(
            f"| {unit} | {statistics.fmean(entry['base']):.2f} | {_cell(entry['own'])} | "
            f"{_cell(entry['others'])} | {_cell(entry['net'])} |"
        )
    return "\n".join(lines)


def write(out: Path, meta: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    """Save the rows (JSON) and their table (Markdown, beside it)."""
    out.write_text(json.dumps({"meta": dict(meta), "rows": rows}, indent=1) + "\n")
    seeds = sorted({r["seed"] for r in rows})
    modes = " and ".join(sorted({r["trainer_mode"] for r in rows}))
    domains = ", ".join(sorted({r["domain"] for r in rows}))
    text = (
        f"# Tilting one unit's data ({domains}; bench/unit_tilt.py)\n\n"
        f"One Skill-Tree step from the base student, the {modes} trainer: each unit given "
        f"{meta['tilt']:g} fair shares of the budget (the rest even over the others), against "
        f"the uniform step of the same seed. Seeds {', '.join(map(str, seeds))}; ± is the "
        "half-width of a 95 % t interval over seeds.\n\n"
        f"- `{meta['command']}` — {meta['date']}, {meta['machine']}, torch {meta['torch']}.\n\n"
        f"{table(rows)}\n"
    )
    out.with_suffix(".md").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="arithmetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--tilt", type=float, default=3.0, help="fair shares of the tilted unit")
    parser.add_argument("--trainer-mode", choices=["continue", "retrain"], default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/unit_tilt.json"))
    args = parser.parse_args()
    if args.tilt <= 1:
        parser.error("--tilt must exceed 1 fair share (1 is the uniform step)")
    threads = max(1, 2 // args.workers)
    meta = run_record(tilt=args.tilt, workers=args.workers)
    tasks: list[Task] = [
        (args.domain, s, args.trainer_mode, args.tilt, threads) for s in args.seeds
    ]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for seed_rows in pool.map(_seed_rows, tasks):
            rows.extend(seed_rows)
            write(args.out, meta, rows)
    print(table(rows))


if __name__ == "__main__":
    main()
