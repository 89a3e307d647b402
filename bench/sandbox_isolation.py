"""What the code sandbox's isolation levels cost per execution.

Times honest work through the public entry points, once per isolation variant:

* ``run_tests``: one sandboxed process per solution (a two-line function, two asserts),
  one after another, so the number is the per-execution cost of the isolation itself;
* ``run_test_batch``: the code domain's scoring path (many solutions per sandboxed process,
  ``max_concurrency`` processes at once), in items per second;
* ``CodeDomain.score_many`` on the built-in code domain's validation and test splits (seed 0),
  once with the gold answers and once with each item given its neighbour's answer (same
  subskill), in items per second, with the verdict counts, which must not depend on the
  isolation.

Variants: ``bwrap`` with and without a per-run cgroup, and the hand-made-namespaces fallback
(``use_bwrap=False``) with and without one. A variant the code in use does not know (an
older checkout, run with ``--label before``) is measured with the default configuration only.
Each variant runs ``--rounds`` times, interleaved; the table gives the median round.

    python bench/sandbox_isolation.py
    python bench/sandbox_isolation.py --executions 40 --batch-items 256 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataenvgym.domains.code.batch import BatchJob, run_test_batch
from dataenvgym.domains.code.domain import CodeDomain
from dataenvgym.domains.code.sandbox import SandboxConfig, run_tests

OUT = Path(__file__).parent / "results" / "sandbox_isolation.json"
SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
# The batch path calls ``f(input)`` and compares outside the sandbox.
BATCH_SOLUTION = "def f(pair):\n    return pair[0] + pair[1]\n"
BATCH_INPUTS = ([1, 2], [-1, 1])
BATCH_EXPECTED = (3, 0)
VARIANTS: dict[str, dict[str, Any]] = {
    "bwrap + cgroup": {},
    "bwrap, no cgroup": {"use_cgroups": False},
    "namespaces + cgroup": {"use_bwrap": False},
    "namespaces, no cgroup": {"use_bwrap": False, "use_cgroups": False},
}


def _level(cfg: SandboxConfig) -> str:
    try:
        from dataenvgym.domains.code.sandbox import isolation_report
    except ImportError:
        return "default (no isolation_report in this checkout)"
    return str(isolation_report(cfg).summary())


def _round(cfg: SandboxConfig, executions: int, items: int) -> tuple[float, float]:
    start = time.perf_counter()
    for _ in range(executions):
        assert run_tests(SOLUTION, TESTS, config=cfg).passed
    per_exec = executions / (time.perf_counter() - start)
    jobs = [BatchJob(BATCH_SOLUTION, BATCH_INPUTS, BATCH_EXPECTED)] * items
    start = time.perf_counter()
    verdicts = run_test_batch(jobs, cfg)
    per_item = items / (time.perf_counter() - start)
    assert all(v.all_passed for v in verdicts)
    return per_exec, per_item


def _domain_scoring(extra: dict[str, Any]) -> dict[str, Any]:
    domain = CodeDomain()  # a fresh verdict memo
    domain.sandbox = domain.sandbox.model_copy(update=extra)
    val, test = domain.splits(0)
    items = val + test
    groups: dict[str | None, list[Any]] = {}
    for item in items:
        groups.setdefault(item.subskill, []).append(item)
    neighbour = [g[(g.index(i) + 1) % len(g)].answer for g in groups.values() for i in g]
    ordered = [i for g in groups.values() for i in g]
    start = time.perf_counter()
    gold = domain.score_many(ordered, [i.answer for i in ordered])
    other = domain.score_many(ordered, neighbour)
    seconds = time.perf_counter() - start
    return {
        "items_per_s": round(2 * len(ordered) / seconds, 1),
        "gold_correct": sum(s.correct for s in gold),
        "neighbour_correct": sum(s.correct for s in other),
        "items": len(ordered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=30)
    parser.add_argument("--batch-items", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="after", help="key under which results are stored")
    args = parser.parse_args()

    known = set(SandboxConfig.model_fields)
    configs = {
        name: SandboxConfig(**extra) for name, extra in VARIANTS.items() if set(extra) <= known
    }
    if len(configs) < len(VARIANTS):
        configs = {"default": SandboxConfig()}
    for cfg in configs.values():
        run_tests(SOLUTION, TESTS, config=cfg)  # probe and warm up outside the timing
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, cfg in configs.items():
            samples[name].append(_round(cfg, args.executions, args.batch_items))
    rows = {}
    for name, cfg in configs.items():
        extra = VARIANTS.get(name, {})
        domain = _domain_scoring(extra)
        rows[name] = {
            "level": _level(cfg),
            "executions_per_s": round(statistics.median(s[0] for s in samples[name]), 2),
            "batch_items_per_s": round(statistics.median(s[1] for s in samples[name]), 1),
            "rounds": [[round(a, 2), round(b, 1)] for a, b in samples[name]],
            "domain_scoring": domain,
        }
        print(
            f"{args.label:7s} {name:24s} {rows[name]['executions_per_s']:7.2f} exec/s "
            f"{rows[name]['batch_items_per_s']:8.1f} batch items/s "
            f"{domain['items_per_s']:7.1f} domain items/s "
            f"(gold {domain['gold_correct']}, neighbour {domain['neighbour_correct']} correct "
            f"of {domain['items']})  [{rows[name]['level']}]"
        )
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover - torch is a core dependency
        torch_version = None
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.label] = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "torch": torch_version,
        "euid": os.geteuid(),
        "executions": args.executions,
        "batch_items": args.batch_items,
        "statistic": f"median of {args.rounds} interleaved rounds",
        "variants": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
