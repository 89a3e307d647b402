"""Time of the domain contract check on every built-in procedural domain (and the example).

Two numbers per domain, each the median of ``--repeats`` runs in this process:

* ``build``: the part every environment build runs on a built-in domain (generators,
  verifier and student fit of a few generated data per subskill; memoised per process
  afterwards, so this is the first build's cost);
* ``full``: what ``dataenvgym check-domain NAME`` and a build of a user's domain run
  (the splits of seed 0, a scored sample, the generators).

The full check's time includes the domain's own ``splits(0)``, which an episode's ``reset``
computes anyway.

    python bench/domain_contract.py                      # writes bench/results/domain_contract.md
    python bench/domain_contract.py --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from dataenvgym.domains.contract import run_contract
from dataenvgym.envs.registration import default_student
from dataenvgym.protocols import LimitedStudentFactory, TextLimits
from dataenvgym.registry import make_domain, make_student_factory

DOMAINS = ["arithmetic", "code", "tool-use", "vqa", "textops"]


def _time(domain: Any, limits: TextLimits | None, splits: bool, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        report = run_contract(domain, limits=limits, splits=splits)
        times.append(time.perf_counter() - started)
        assert not report.violations, [v.line() for v in report.violations]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/domain_contract.md"))
    args = parser.parse_args()
    rows = []
    for name in DOMAINS:
        try:
            domain = make_domain(name)
        except Exception as err:  # the example plugin is not installed
            print(f"skip {name}: {err}", file=sys.stderr)
            continue
        student = default_student(name)
        factory = make_student_factory(student, domain.name)
        limits = factory.text_limits() if isinstance(factory, LimitedStudentFactory) else None
        build = _time(domain, limits, False, args.repeats)
        full = _time(domain, limits, True, args.repeats)
        splits = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            domain.splits(0)
            splits.append(time.perf_counter() - started)
        own = statistics.median(splits)
        rows.append((name, student, build, full, own))
        print(f"{name:12s} {student:9s} build {build:.3f} s  full {full:.3f} s  splits {own:.3f} s")
    lines = [
        "# Domain contract check: time per built-in domain",
        "",
        f"Command: `python bench/domain_contract.py --repeats {args.repeats}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{torch.get_num_threads()} torch threads; torch {torch.__version__}  ",
        f"Median of {args.repeats} runs, in seconds. `build`: what each environment build runs "
        "on a built-in domain (once per configuration and process); `full`: `check-domain`, "
        "and every build of a user's domain (includes the domain's own `splits(0)`).",
        "",
        "`splits(0)` alone is the domain's own cost inside `full`.",
        "",
        "| domain | student | build (s) | full (s) | of which splits(0) (s) |",
        "|---|---|---:|---:|---:|",
        *(f"| {n} | {s} | {b:.3f} | {f:.3f} | {o:.3f} |" for n, s, b, f, o in rows),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
