"""Data-generation throughput of the LLM engine against the loopback server.

The server answers every chat call after a fixed latency (200 ms by default), like a remote
model whose time is spent generating, not on our CPU; a scripted teacher writes correct
arithmetic data. The LLM engine fills a Skill-Tree plan (every arithmetic subskill, the
same allocation each) in calls of ``--items-per-call`` examples, each verified by the
domain. The table shows verified data per second at concurrency 1, 4 and 8 and the speedup
over 1; then the last row is repeated against its warm cache, which must make 0 calls.

    python bench/llm_concurrency.py [--data 320] [--items-per-call 5] [--latency 0.2]
        [--out bench/results/llm_concurrency.json]

The result (rows, the command, date, machine, load and torch version) is written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dataenvgym.agents.llm import LLMEngine, LLMTeacher, TeacherOptions
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.llm import LLMConfig
from dataenvgym.testing import FakeOpenAIServer, ScriptedTeacher
from dataenvgym.types import (
    SkillForest,
    SkillNode,
    SkillTreeAction,
    SkillTreeObservation,
    SubskillNode,
)

KEY_ENV = "DATAENVGYM_BENCH_KEY"


def plan(domain: ArithmeticDomain, total: int) -> SkillTreeObservation:
    """A Skill-Tree state whose subskills already hold ``total`` data of allocation."""
    skills = domain.skills()
    per = total // sum(len(s.subskills) for s in skills)
    forest = SkillForest(
        skills={
            s.name: SkillNode(
                name=s.name,
                subskills={
                    sub: SubskillNode(name=sub, description=desc, allocation=per)
                    for sub, desc in s.subskills.items()
                },
            )
            for s in skills
        }
    )
    return SkillTreeObservation(
        iteration=0,
        budget_per_iteration=total,
        budget_left=total,
        val_accuracy=0.0,
        val_partial=0.0,
        forest=forest,
    )


def run(
    server: FakeOpenAIServer, cache: Path, state: SkillTreeObservation, concurrency: int, items: int
) -> tuple[float, int, int]:
    """Generate the plan's data; return (seconds, verified data, server calls)."""
    config = LLMConfig(
        model="fake-model",
        base_url=server.base_url,
        api_key_env=KEY_ENV,
        max_concurrency=concurrency,
        cache_path=cache,
    )
    domain = ArithmeticDomain()
    teacher = LLMTeacher(config, TeacherOptions(items_per_call=items))
    engine = LLMEngine(teacher, domain, domain.skills())
    before = server.calls
    start = time.perf_counter()
    data = engine.generate(SkillTreeAction(), state, seed=0)
    elapsed = time.perf_counter() - start
    teacher.close()
    return elapsed, len(data), server.calls - before


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=int, default=320, help="data to generate per row")
    parser.add_argument("--items-per-call", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results/llm_concurrency.json"), help="JSON result"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    os.environ.setdefault(KEY_ENV, "bench")
    state = plan(ArithmeticDomain(), args.data)
    wanted = state.forest.allocation_total()

    print(
        f"{wanted} data in calls of {args.items_per_call}, server latency "
        f"{args.latency * 1000:.0f} ms, cold cache per row"
    )
    print(
        f"{'concurrency':>11} | {'seconds':>7} | {'data':>4} | {'data/s':>6} | "
        f"{'speedup':>7} | calls"
    )
    print("-" * 60)
    # Correct, complete answers: every row makes the same calls, so rows compare fairly.
    script = ScriptedTeacher(wrong_rate=0.0, short_rate=0.0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer(script, latency_s=args.latency) as server,
    ):
        base_rate = None
        cache = Path(tmp)
        for level in args.levels:
            cache = Path(tmp) / f"cache_c{level}.sqlite"
            elapsed, made, calls = run(server, cache, state, level, args.items_per_call)
            rate = made / elapsed
            base_rate = base_rate or rate
            rows.append(
                {
                    "concurrency": level,
                    "seconds": round(elapsed, 3),
                    "data": made,
                    "data_per_s": round(rate, 1),
                    "speedup": round(rate / base_rate, 2),
                    "server_calls": calls,
                }
            )
            print(
                f"{level:>11} | {elapsed:7.2f} | {made:>4} | {rate:6.1f} | "
                f"{rate / base_rate:6.2f}x | {calls}"
            )
            if made != wanted:
                raise SystemExit(f"generated {made} data; expected {wanted}")
        elapsed, made, calls = run(server, cache, state, args.levels[-1], args.items_per_call)
        print(
            f"{'warm cache':>11} | {elapsed:7.2f} | {made:>4} | {made / elapsed:6.0f} | "
            f"{'':>7} | {calls}"
        )
        rows.append(
            {
                "concurrency": "warm cache",
                "seconds": round(elapsed, 3),
                "data": made,
                "data_per_s": round(made / elapsed, 1),
                "server_calls": calls,
            }
        )
        modes = {r.get("response_format", {}).get("type") for r in server.requests}
        write_result(args, rows, sorted(str(m) for m in modes))
        if calls != 0:
            raise SystemExit(f"warm cache made {calls} calls; expected 0")


def write_result(args: argparse.Namespace, rows: list[dict[str, Any]], modes: list[str]) -> None:
    """The rows with what they were measured on, as JSON at ``args.out``."""
    import torch

    result = {
        "command": "python bench/llm_concurrency.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_1min": round(os.getloadavg()[0], 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "data": args.data,
        "items_per_call": args.items_per_call,
        "latency_s": args.latency,
        "response_formats_sent": modes,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
