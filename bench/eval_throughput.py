"""Evaluation items per second: greedy decoding by the built-in student plus scoring.

Times ``DomainEvaluator.evaluate`` (predict + score + per-skill report) on the arithmetic
validation split, for several decoding batch sizes and thread counts, and the scoring part
alone.

    python bench/eval_throughput.py
    python bench/eval_throughput.py --items-per-subskill 400 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain
from dataenvgym.evaluation import DomainEvaluator
from dataenvgym.students.tiny import TinyStudent, TinyStudentConfig


def best_of(repeats: int, run: object) -> float:
    """Fastest of ``repeats`` timed calls of ``run`` (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items-per-subskill", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.items_per_subskill
    domain = ArithmeticDomain(ArithmeticConfig(val_per_subskill=n, test_per_subskill=1))
    validation, _ = domain.splits(0)
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} CPUs)")
    print(f"{len(validation)} validation items (arithmetic, {n} per subskill), default student\n")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch_sizes:
            student = TinyStudent(TinyStudentConfig(eval_batch_size=batch))
            evaluator = DomainEvaluator(domain)
            evaluator.evaluate(student, validation[:64])  # warm up
            seconds = best_of(
                args.repeats, lambda e=evaluator, s=student: e.evaluate(s, validation)
            )
            rows.append((threads, batch, seconds))
    predictions = TinyStudent().predict(validation)
    scoring = best_of(
        args.repeats,
        lambda: [domain.score(i, p) for i, p in zip(validation, predictions, strict=True)],
    )
    print("| threads | decode batch | seconds | items/s |")
    print("| --- | --- | --- | --- |")
    for threads, batch, seconds in rows:
        print(f"| {threads} | {batch} | {seconds:.2f} | {len(validation) / seconds:,.0f} |")
    print(f"\nscoring alone: {len(validation) / scoring:,.0f} items/s")


if __name__ == "__main__":
    main()
