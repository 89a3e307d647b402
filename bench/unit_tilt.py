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

With ``--plan NAME=JSON`` (repeatable) it measures whole allocations instead of tilts: each
plan's JSON maps units to weights (units it leaves out get no data), the step's budget is
split in proportion, and the table gives, per plan against the uniform step, the mean change
of the units it feeds, of those it starves, and the net. The best plan found this way is a
floor under what the best allocation of one step buys, and shows how much room a domain
leaves a teacher's allocation at all.

    python bench/unit_tilt.py --seeds 10 11 12 --workers 2
    python bench/unit_tilt.py --domain tool-use --trainer-mode retrain --seeds 10 11
    python bench/unit_tilt.py --plan 'chains={"addition/carry_chain": 1,
        "subtraction/borrow_chain": 1}' --out /tmp/plans.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dataenvgym.scoring import t_interval
from run_record import run_record

UNIFORM = "(uniform)"

# domain, seed, trainer fields (empty: the default trainer), tilt, threads, plans (empty:
# tilts), budget (None: the domain's)
Task = tuple[str, int, dict[str, Any], float, int, dict[str, dict[str, float]], int | None]


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


def named_object(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME=JSON`` with a JSON object -> (name, the object): a command-line option's value.

    Raises:
        ValueError: not ``NAME=`` followed by a JSON object.
    """
    name, sep, body = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME=JSON, got {text!r}")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as err:
        raise ValueError(f"{name!r}: not JSON ({err})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name!r}: give a JSON object")
    return name.strip(), value


def parse_plan(text: str) -> tuple[str, dict[str, float]]:
    """``NAME=JSON`` -> (name, weight per unit); weights are non-negative, not all 0.

    Raises:
        ValueError: not ``NAME=`` followed by a JSON object of unit -> weight.
    """
    name, weights = named_object(text)
    if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights.values()):
        raise ValueError(f"plan {name!r}: give an object of unit -> weight")
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError(f"plan {name!r}: weights must be >= 0 and not all 0")
    return name, {k: float(w) for k, w in weights.items()}


def planned(keys: list[str], budget: int, weights: Mapping[str, float]) -> dict[str, int]:
    """The step's ``budget`` split over ``keys`` in proportion to ``weights`` (missing: 0).

    Raises:
        ValueError: a weighted unit that is not one of ``keys``.
    """
    from dataenvgym.agents.allocation import largest_remainder

    unknown = sorted(set(weights) - set(keys))
    if unknown:
        raise ValueError(f"unknown units {unknown}; known: {', '.join(keys)}")
    return largest_remainder({k: weights.get(k, 0.0) for k in keys}, budget)


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
    """The uniform step and one tilted step per subskill (or one step per plan), for one seed."""
    import torch

    domain, seed, trainer, tilt, threads, plans, budget_override = task
    torch.set_num_threads(threads)
    config: dict[str, Any] = {"budget": budget_override} if budget_override else {}
    if trainer:
        config["trainer"] = trainer
    env, _ = make_skill_tree_env(domain, seed, None, **config)
    base = env.evaluate_test().report.per_subskill
    keys = sorted(units(env))
    budget = env.config.budget_per_iteration
    steps: list[tuple[str | None, str | None, dict[str, int]]] = [
        (None, None, tilted(keys, budget, None, tilt))
    ]
    if plans:
        steps += [(None, name, planned(keys, budget, w)) for name, w in plans.items()]
    else:
        steps += [(unit, None, tilted(keys, budget, unit, tilt)) for unit in keys]
    rows = []
    for unit, plan, counts in steps:
        started = time.perf_counter()
        observation, _ = env.reset(seed=seed)
        env.step(first_step(env, observation, counts, seed))
        after = env.evaluate_test().report
        rows.append(
            {
                "domain": domain,
                "seed": seed,
                "trainer_mode": env.trainer.config.mode,
                "base_rehearsal": env.trainer.config.base_rehearsal,
                "budget": budget,
                "unit": unit or (None if plan else UNIFORM),
                "plan": plan,
                "data": counts[unit] if unit else (counts if plan else None),
                "accuracy": after.accuracy,
                "per_subskill": {k: v.accuracy for k, v in after.per_subskill.items()},
                "base_per_subskill": {k: v.accuracy for k, v in base.items()},
                "seconds": time.perf_counter() - started,
            }
        )
    return rows


def _against_uniform(
    rows: list[dict[str, Any]],
) -> Iterator[tuple[dict[str, Any], dict[str, float], float]]:
    """Each non-uniform row with its per-unit and net change (points) against the uniform
    step of its domain and seed."""
    uniform = {(r["domain"], r["seed"]): r for r in rows if r["unit"] == UNIFORM}
    for row in rows:
        if row["unit"] == UNIFORM:
            continue
        ref = uniform[(row["domain"], row["seed"])]
        change = {
            k: 100 * (row["per_subskill"][k] - ref["per_subskill"][k]) for k in row["per_subskill"]
        }
        yield row, change, 100 * (row["accuracy"] - ref["accuracy"])


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def effects(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per unit, per seed: own, others and net change (points) against that seed's uniform
    step, and the base student's accuracy on the unit."""
    out: dict[str, dict[str, list[float]]] = {}
    for row, change, net in _against_uniform(rows):
        unit = row["unit"]
        if unit is None:  # a plan (plan_effects)
            continue
        entry = out.setdefault(unit, {"own": [], "others": [], "net": [], "base": []})
        entry["own"].append(change[unit])
        entry["others"].append(_mean([v for k, v in change.items() if k != unit]))
        entry["net"].append(net)
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


def plan_effects(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per plan, per seed: the number of units it fed (gave more than a fair share of the
    budget), the mean change (points) of those units and of the others, and the net change,
    against that seed's uniform step."""
    out: dict[str, dict[str, list[float]]] = {}
    for row, change, net in _against_uniform(rows):
        if not row.get("plan"):
            continue
        fair = sum(row["data"].values()) / len(row["data"])
        fed = {k for k, n in row["data"].items() if n > fair}
        entry = out.setdefault(row["plan"], {"units": [], "fed": [], "starved": [], "net": []})
        entry["units"].append(len(fed))
        entry["fed"].append(_mean([v for k, v in change.items() if k in fed]))
        entry["starved"].append(_mean([v for k, v in change.items() if k not in fed]))
        entry["net"].append(net)
    return out


def plan_table(rows: list[dict[str, Any]], plans: Mapping[str, Mapping[str, float]]) -> str:
    """The Markdown table of :func:`plan_effects`, plans in the order given."""
    lines = [
        "| plan | units fed | fed (pts) | starved (pts) | net (pts) |",
        "| --- | --- | --- | --- | --- |",
    ]
    effects = plan_effects(rows)
    for name in plans:
        if name not in effects:
            continue
        entry = effects[name]
        lines.append(
            f"| {name} | {max(entry['units']):g} | {_cell(entry['fed'])} | "
            f"{_cell(entry['starved'])} | {_cell(entry['net'])} |"
        )
    return "\n".join(lines)


def write(out: Path, meta: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    """Save the rows (JSON) and their table (Markdown, beside it)."""
    out.write_text(json.dumps({"meta": dict(meta), "rows": rows}, indent=1) + "\n")
    seeds = sorted({r["seed"] for r in rows})
    modes = " and ".join(sorted({r["trainer_mode"] for r in rows}))
    domains = ", ".join(sorted({r["domain"] for r in rows}))
    budgets = sorted({r["budget"] for r in rows if r.get("budget")})
    rehearsed = sorted({r.get("base_rehearsal", 0.0) for r in rows} - {0.0})
    if rehearsed:
        modes += f" trainer with {' and '.join(f'{x:g}' for x in rehearsed)} base rehearsal"
    else:
        modes += " trainer"
    if budgets:
        modes += f", {' and '.join(map(str, budgets))} data a step"
    plans = meta.get("plans") or {}
    if plans:
        title = f"Whole allocations for one step ({domains}; bench/unit_tilt.py --plan)"
        what = (
            "each plan's budget split over the units it names in proportion to their weights "
            "(the others get nothing), against the uniform step of the same seed. Fed, "
            "starved: the mean change of the units the plan gives more than a fair share of "
            "the budget and of the others."
        )
        body = plan_table(rows, plans)
    else:
        title = f"Tilting one unit's data ({domains}; bench/unit_tilt.py)"
        what = (
            f"each unit given {meta['tilt']:g} fair shares of the budget (the rest even over "
            "the others), against the uniform step of the same seed."
        )
        body = table(rows)
    out.with_suffix(".md").write_text(
        f"# {title}\n\nOne Skill-Tree step from the base student, the {modes}: {what} Seeds "
        f"{', '.join(map(str, seeds))}; ± is the half-width of a 95 % t interval over seeds."
        f"\n\n- `{meta['command']}` — {meta['date']}, {meta['machine']}, torch "
        f"{meta['torch']}.\n\n{body}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="arithmetic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--tilt", type=float, default=3.0, help="fair shares of the tilted unit")
    parser.add_argument("--trainer-mode", choices=["continue", "retrain"], default=None)
    parser.add_argument("--budget", type=int, default=None, help="default: the domain's")
    parser.add_argument(
        "--base-rehearsal",
        type=float,
        default=0.0,
        help="TrainerConfig.base_rehearsal: base-student data per example of each fit",
    )
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="measure this allocation (unit -> weight) instead of the tilts; repeatable",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/unit_tilt.json"))
    args = parser.parse_args()
    if args.tilt <= 1:
        parser.error("--tilt must exceed 1 fair share (1 is the uniform step)")
    try:
        plans = dict(parse_plan(text) for text in args.plan)
    except ValueError as err:
        parser.error(str(err))
    threads = max(1, 2 // args.workers)
    meta = run_record(tilt=args.tilt, workers=args.workers, plans=plans)
    trainer: dict[str, Any] = {"mode": args.trainer_mode} if args.trainer_mode else {}
    if args.base_rehearsal:
        trainer["base_rehearsal"] = args.base_rehearsal
    tasks: list[Task] = [
        (args.domain, s, trainer, args.tilt, threads, plans, args.budget) for s in args.seeds
    ]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for seed_rows in pool.map(_seed_rows, tasks):
            rows.extend(seed_rows)
            write(args.out, meta, rows)
    print(plan_table(rows, plans) if plans else table(rows))


if __name__ == "__main__":
    main()
