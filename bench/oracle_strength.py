"""How strong an upper reference each oracle configuration is, and what it costs.

Plays the oracle in several configurations (``--variant NAME=JSON``: fields of
``OracleConfig``) on the default episode of a domain (``--domains``), in each environment and
seed, and writes the final test accuracy and wall time of every episode. Rows of other agents
on the same settings (the with-state and no-state rows of ``bench/state_vs_no_state.py``,
``--reference``) are read in to compare: the table gives, per setting and variant, its final
accuracy and its difference to no-state and to with-state, paired by seed (mean ± half-width
of a 95 % t interval), and the mean episode time.

    python bench/oracle_strength.py --seeds 10 11 \\
        --variant one-step='{"search_population": 0}' \\
        --variant to-the-end='{"search_population": 0, "horizon": 5}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dataenvgym.scoring import t_interval
from run_record import run_record

ENVS = ["open-ended", "skill-list", "skill-tree"]
OUT = Path("bench/results/oracle_strength.json")
REFERENCE = Path("bench/results/state_vs_no_state.json")

# domain, env, seed, variant name, OracleConfig fields, TrainerConfig fields, iterations,
# budget per iteration (None: the run's default)
Task = tuple[str, str, int, str, dict[str, Any], dict[str, Any], int | None, int | None]


def _episode(task: Task) -> dict[str, Any]:
    import dataclasses

    import torch

    from dataenvgym.agents.oracle import default_oracle_config, make_oracle
    from dataenvgym.config import RunConfig
    from dataenvgym.registry import make_env
    from dataenvgym.runner import run_episode

    domain, env_name, seed, variant, fields, trainer, iterations, budget = task
    torch.set_num_threads(1)
    extra: dict[str, Any] = {"iterations": iterations} if iterations else {}
    if budget:
        extra["budget"] = budget
    config = RunConfig(
        env=env_name,  # type: ignore[arg-type]
        domain=domain,
        agent="oracle",
        seed=seed,
        test_every_iteration=False,
        trainer=trainer,  # type: ignore[arg-type]
        **extra,
    )
    env = make_env(**config.env_kwargs())
    domain_object = env.unwrapped.domain  # type: ignore[attr-defined]
    agent = make_oracle(
        domain_object, dataclasses.replace(default_oracle_config(domain_object), **fields)
    )
    started = time.perf_counter()
    summary = run_episode(env, agent, seed=seed, test_every_iteration=False)
    return {
        "domain": domain,
        "env": env_name,
        "agent": "oracle",
        "variant": variant,
        "config": fields,
        "seed": seed,
        "trainer_mode": config.trainer.mode,
        # Only when not the run's default, so the rows written before read as they did.
        **({"iterations": iterations} if iterations else {}),
        **({"budget": budget} if budget else {}),
        # Only when set, so rows of the default trainer read as they always have.
        **(
            {"base_rehearsal": config.trainer.base_rehearsal}
            if config.trainer.base_rehearsal
            else {}
        ),
        "initial": summary["initial"]["test_accuracy"],
        "final": summary["final"]["test_accuracy"],
        # Per unit, to see where a teacher's lead comes from.
        "initial_per_unit": summary["initial"]["test_per_subskill"],
        "final_per_unit": summary["final"]["test_per_subskill"],
        # Without pretraining (the base student is cached and shared by every agent).
        "wall_seconds": time.perf_counter() - started - summary.get("base_student_seconds", 0),
    }


def _paired(rows: list[dict[str, Any]], others: dict[int, float]) -> str:
    pairs = [r["final"] - others[r["seed"]] for r in rows if r["seed"] in others]
    if len(pairs) < 2:
        return f"{100 * pairs[0]:+.1f} (1 seed)" if pairs else ""
    interval = t_interval(pairs)
    return f"{100 * interval.mean:+.1f} ± {100 * interval.half_width:.1f} ({len(pairs)})"


def table(rows: list[dict[str, Any]], reference: list[dict[str, Any]]) -> str:
    """Markdown table: per setting and variant, final accuracy and paired differences."""
    lines = [
        "| domain | env | variant | seeds | final test acc | − no state (pts) "
        "| − with state (pts) | episode s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    settings = sorted(
        {(r["domain"], r["env"]) for r in rows}, key=lambda s: (s[0], ENVS.index(s[1]))
    )
    for domain, env in settings:
        finals = {
            agent: {
                r["seed"]: r["final"]
                for r in reference
                if r.get("domain", "arithmetic") == domain
                and r["env"] == env
                and r["agent"] == agent
            }
            for agent in ("no-state", "with-state")
        }
        for variant in dict.fromkeys(r["variant"] for r in rows):
            mine = sorted(
                (
                    r
                    for r in rows
                    if (r["domain"], r["env"], r["variant"]) == (domain, env, variant)
                ),
                key=lambda r: r["seed"],
            )
            if not mine:
                continue
            accuracy = statistics.fmean(r["final"] for r in mine)
            seconds = statistics.fmean(r["wall_seconds"] for r in mine)
            lines.append(
                f"| {domain} | {env} | {variant} | {','.join(str(r['seed']) for r in mine)} "
                f"| {accuracy:.3f} | {_paired(mine, finals['no-state'])} "
                f"| {_paired(mine, finals['with-state'])} | {seconds:.0f} |"
            )
    return "\n".join(lines)


def write(
    out: Path, meta: dict[str, Any], rows: list[dict[str, Any]], reference: list[dict[str, Any]]
) -> None:
    """Save the rows (JSON) and their table (Markdown, beside it)."""
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    made = "\n".join(
        f"- `{m['command']}` — {m['date']}, {m['machine']}"
        # Records written before run_record kept the episodes at a time in "machine".
        + (f", {m['workers']} episodes at a time." if "workers" in m else ".")
        for m in [*meta.get("earlier_runs", []), meta]
    )
    modes = " and ".join(sorted({r["trainer_mode"] for r in rows}))
    out.with_suffix(".md").write_text(
        f"# Oracle strength\n\n## The {modes} trainer\n\n{made}\n\n"
        f"Reference rows (no state, with state): `{meta['reference']}`. Differences are paired "
        "by seed: mean ± half-width of a 95 % t interval, with the number of seeds paired in "
        "brackets; episode s excludes pretraining.\n\n" + table(rows, reference) + "\n"
    )


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["domain"],
        row["env"],
        row["variant"],
        row["seed"],
        row["trainer_mode"],
        row.get("base_rehearsal", 0.0),
        row.get("iterations"),
        row.get("budget"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--envs", nargs="*", default=ENVS)
    parser.add_argument("--domains", nargs="*", default=["arithmetic"])
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=JSON of OracleConfig fields; default: the shipped oracle as 'default'",
    )
    parser.add_argument("--trainer-mode", choices=["continue", "retrain"], default=None)
    parser.add_argument(
        "--base-rehearsal",
        type=float,
        default=0.0,
        help="TrainerConfig.base_rehearsal of every episode (default 0: none)",
    )
    parser.add_argument("--iterations", type=int, default=None, help="default: the run's")
    parser.add_argument("--budget", type=int, default=None, help="default: the domain's")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    variants = dict(v.split("=", 1) for v in args.variant) or {"default": "{}"}
    trainer: dict[str, Any] = {"mode": args.trainer_mode} if args.trainer_mode else {}
    if args.base_rehearsal:
        trainer["base_rehearsal"] = args.base_rehearsal
    tasks: list[Task] = [
        (domain, env, seed, name, json.loads(fields), trainer, args.iterations, args.budget)
        for name, fields in variants.items()
        for domain in args.domains
        for env in args.envs
        for seed in args.seeds
    ]
    saved = json.loads(args.out.read_text()) if args.out.exists() else {"rows": [], "meta": {}}
    earlier = saved["rows"]
    earlier_runs = [*saved["meta"].pop("earlier_runs", []), saved["meta"]] if earlier else []
    reference = json.loads(args.reference.read_text())["rows"]
    meta = run_record(
        workers=args.workers,
        reference=str(args.reference),
        earlier_runs=earlier_runs,  # the commands of the rows kept from --out
    )
    rows: list[dict[str, Any]] = []
    merged = earlier
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(_episode, tasks):
            rows.append(row)
            fresh = {_key(r) for r in rows}
            merged = [r for r in earlier if _key(r) not in fresh] + rows
            write(args.out, meta, merged, reference)
            print(row, flush=True)
    print(table(merged, reference))


if __name__ == "__main__":
    main()
