"""With state vs no state, at equal data budget and training, in every environment.

Runs the default episode (built-in arithmetic, tiny student; other domains with
``--domains``) for both offline agents over several seeds, and prints final test accuracy and
gain, plus the paired difference (with state - no state) per environment; ± is the
half-width of a 95 % t interval over seeds. ``--trainer-mode`` runs the episodes with the
other trainer (``continue`` is the default one, ``retrain`` the paper's). Writes the rows to
``--out`` (JSON, with how they were made) and the table beside it (``.md``).

    python bench/state_vs_no_state.py --seeds 5 --workers 2
    python bench/state_vs_no_state.py --trainer-mode retrain --out retrain.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from dataenvgym.scoring import t_interval
from run_record import run_record

ENVS = ["open-ended", "skill-list", "skill-tree"]
AGENTS = ["with-state", "no-state"]


# domain, env, agent, seed, threads, trainer fields, budget and iterations (None: the default)
Task = tuple[str, str, str, int, int, dict[str, Any], int | None, int | None]


def _episode(task: Task) -> dict[str, Any]:

    from dataenvgym.config import RunConfig
    from dataenvgym.execute import execute_run

    domain, env, agent, seed, threads, trainer, budget, iterations = task
    torch.set_num_threads(threads)
    extra: dict[str, Any] = {"budget": budget} if budget else {}
    if iterations:
        extra["iterations"] = iterations
    config = RunConfig(
        env=env,  # type: ignore[arg-type]
        domain=domain,
        agent=agent,
        seed=seed,
        test_every_iteration=False,
        trainer=trainer,  # type: ignore[arg-type]
        **extra,
    )
    summary = execute_run(config, None, show_progress=False)
    return {
        "domain": domain,
        "env": env,
        "agent": agent,
        "seed": seed,
        "trainer_mode": config.trainer.mode,
        "budget": config.budget,
        "iterations": config.iterations,
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
        "wall_seconds": summary["wall_seconds"],
    }


def _warm_base(task: tuple[str, int, int]) -> None:

    from dataenvgym.config import RunConfig
    from dataenvgym.registry import make_env

    domain, seed, threads = task
    torch.set_num_threads(threads)
    make_env(**RunConfig(domain=domain, seed=seed).env_kwargs()).reset(seed=seed)


def _mean_half(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % t interval (nan for one value)."""
    interval = t_interval(values)
    half = interval.half_width if len(values) > 1 else float("nan")
    return interval.mean, half


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the results: every agent's final accuracy and gain, and its
    difference to no-state paired by seed."""
    lines = [
        "| domain | env | agent | final test acc | gain over base | − no state (paired) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    domains = sorted({r.get("domain", "arithmetic") for r in rows})
    present = {r["agent"] for r in rows}
    agents = [a for a in AGENTS if a in present] + sorted(present - set(AGENTS))
    for domain, env in ((d, e) for d in domains for e in ENVS):
        by_agent = {
            a: sorted(
                (
                    r
                    for r in rows
                    if r.get("domain", "arithmetic") == domain
                    and r["env"] == env
                    and r["agent"] == a
                ),
                key=lambda r: r["seed"],
            )
            for a in agents
        }
        # Only seeds every agent finished (a run in progress saves after every episode).
        seed_sets = [{r["seed"] for r in agent_rows} for agent_rows in by_agent.values()]
        both = set.intersection(*seed_sets) if seed_sets else set()
        if not both:
            continue
        by_agent = {a: [r for r in rows_ if r["seed"] in both] for a, rows_ in by_agent.items()}
        for agent in agents:
            finals = [r["final"] for r in by_agent[agent]]
            gains = [r["final"] - r["initial"] for r in by_agent[agent]]
            f_mean, f_se = _mean_half(finals)
            g_mean, g_se = _mean_half(gains)
            diff = ""
            if agent != "no-state" and "no-state" in by_agent:
                paired = [
                    w["final"] - n["final"]
                    for w, n in zip(by_agent[agent], by_agent["no-state"], strict=True)
                ]
                diff_mean, diff_se = _mean_half(paired)
                diff = f"{100 * diff_mean:+.1f} ± {100 * diff_se:.1f} pts"
            lines.append(
                f"| {domain} | {env} | {agent} | {f_mean:.3f} ± {f_se:.3f} | "
                f"{100 * g_mean:+.1f} ± {100 * g_se:.1f} pts | {diff} |"
            )
    return "\n".join(lines)


def _key(row: dict[str, Any]) -> tuple[str, str, str, int, float]:
    return (
        row.get("domain", "arithmetic"),
        row["env"],
        row["agent"],
        row["seed"],
        row.get("base_rehearsal", 0.0),
    )


def _merged(earlier: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``earlier`` rows not re-run now, then this run's rows."""
    fresh = {_key(r) for r in rows}
    return [r for r in earlier if _key(r) not in fresh] + rows


def _save(path: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    runs = [*meta.get("earlier_runs", []), meta]
    made = "\n".join(
        f"- `{m['command']}` — {m['date']}, {m['machine']}, torch {m['torch']}." for m in runs
    )
    rehearsal = meta.get("base_rehearsal")
    trainer = f"The {meta['trainer_mode']} trainer" + (
        f", with base rehearsal {rehearsal}" if rehearsal else ""
    )
    path.with_suffix(".md").write_text(
        f"# Agents vs no state\n\n## {trainer}\n\n{made}\n\n"
        "Final test accuracy and gain over the base student: mean ± half-width of a 95 % t "
        "interval over seeds; − no state is paired by seed.\n\n" + table(rows) + "\n"
    )


def _earlier(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows already in ``path`` and the records of the commands that made them."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        return data, []
    meta = data.get("meta")
    runs = [*meta.pop("earlier_runs", []), meta] if isinstance(meta, dict) else []
    return data["rows"], runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", nargs="*", default=ENVS)
    parser.add_argument("--domains", nargs="*", default=["arithmetic"])
    parser.add_argument("--agents", nargs="*", default=AGENTS)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--trainer-mode", choices=["continue", "retrain"], default=None, help="default: continue"
    )
    parser.add_argument(
        "--base-rehearsal",
        type=float,
        default=0.0,
        help="TrainerConfig.base_rehearsal of every episode (default 0: none)",
    )
    parser.add_argument("--budget", type=int, default=None, help="default: the domain's")
    parser.add_argument("--iterations", type=int, default=None, help="default: the run's")
    parser.add_argument(
        "--merge", action="store_true", help="add to the rows already in --out (other seeds)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/state_vs_no_state.json"))
    args = parser.parse_args()
    threads = max(1, 2 // args.workers)
    started = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    trainer: dict[str, Any] = {"mode": args.trainer_mode} if args.trainer_mode else {}
    if args.base_rehearsal:
        trainer["base_rehearsal"] = args.base_rehearsal
    tasks: list[Task] = [
        (domain, env, agent, seed, threads, trainer, args.budget, args.iterations)
        for env in args.envs
        for seed in seeds
        for domain in args.domains
        for agent in args.agents
    ]
    earlier, earlier_runs = _earlier(args.out) if args.merge and args.out.exists() else ([], [])
    meta = run_record(
        trainer_mode=args.trainer_mode or "continue",
        **({"base_rehearsal": args.base_rehearsal} if args.base_rehearsal else {}),
        earlier_runs=earlier_runs,  # the commands of the rows kept from --out (--merge)
    )
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        # Pretrain (and cache) each seed's base student once, seeds in parallel.
        warm = [(d, seed, threads) for d in args.domains for seed in seeds]
        list(pool.map(_warm_base, warm))
        for row in pool.map(_episode, tasks):
            rows.append(row)
            # Saved after every episode, so a long run interrupted keeps what it finished.
            _save(args.out, _merged(earlier, rows), meta)
    rows = _merged(earlier, rows)
    print(table(rows))
    mean_episode = statistics.fmean(r["wall_seconds"] for r in rows)
    print(
        f"\n{len(rows)} rows, {len(tasks)} episodes run now ({args.seeds} seeds), "
        f"{time.perf_counter() - started:.0f} s with {args.workers} workers; "
        f"mean episode {mean_episode:.0f} s"
    )


if __name__ == "__main__":
    main()
