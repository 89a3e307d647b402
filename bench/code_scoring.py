"""Code-domain scoring throughput: items per second of ``CodeDomain.score_many``.

Scores the validation split (16 subskills x ``--items-per-subskill``) with the reference
answers (all right) and with a wrong answer per item (``a``/``s``/``x``: all wrong), each
on a fresh ``CodeDomain`` (no verdict memo). The first pass also pays for building each
item's hidden checks; later passes find them cached in the process, as an episode does after
its first evaluation. Uses only the public API, so the same file measures any version.

    python bench/code_scoring.py
    python bench/code_scoring.py --items-per-subskill 60 --repeats 3 --label after
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from dataenvgym.domains.code.domain import CodeConfig, CodeDomain


def timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items-per-subskill", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", type=Path, default=Path("bench/results/code_scoring.json"))
    args = parser.parse_args()

    config = CodeConfig(val_per_subskill=args.items_per_subskill, test_per_subskill=1)
    val, _ = CodeDomain(config).splits(0)
    right = [item.answer for item in val]
    wrong = [str(item.metadata.get("arg", "a")) for item in val]
    rows = {}
    for name, answers in (("right", right), ("wrong", wrong)):
        seconds = []
        for _ in range(args.repeats):
            domain = CodeDomain(config)
            seconds.append(timed(lambda d=domain, a=answers: d.score_many(val, a)))
        rows[name] = {
            "first_s": seconds[0],
            "best_s": min(seconds),
            "items_per_s_first": len(val) / seconds[0],
            "items_per_s_best": len(val) / min(seconds),
        }
        print(
            f"{args.label:>8} {name:>5}: {len(val)} items, first pass {seconds[0]:.2f} s "
            f"({len(val) / seconds[0]:.0f} items/s), best {min(seconds):.2f} s "
            f"({len(val) / min(seconds):.0f} items/s)"
        )
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    record = {
        "label": args.label,
        "command": " ".join(["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "torch": torch_version,
        "items": len(val),
        "max_concurrency": CodeConfig().max_concurrency,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else []
    previous = [r for r in previous if r.get("label") != args.label]
    args.out.write_text(json.dumps([*previous, record], indent=2) + "\n")


if __name__ == "__main__":
    main()
