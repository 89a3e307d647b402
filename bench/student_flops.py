"""Training FLOP/s of the built-in student against the torch matmul peak of this machine.

The peak is a large fp32 matmul timed in the same run (same threads, same load). The
student's FLOPs per optimiser step (forward + backward) are counted by torch's own
``FlopCounterMode`` on a real arithmetic batch, then ``fit`` is timed over many steps, so
the number includes everything a step costs: batching, optimiser, clipping, scheduler.

    python bench/student_flops.py                     # default student, batch 64 and larger
    python bench/student_flops.py --threads 1 2 --steps 40
"""

from __future__ import annotations

import argparse
import os
import random
import time

import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.students.factory import pretraining_data
from dataenvgym.students.tiny import VOCAB_SIZE, TinyStudent, TinyStudentConfig


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    """Best-of fp32 matmul FLOP/s (the machine's practical peak for this dtype)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def step_flops(student: TinyStudent, data: list, batch_size: int) -> float:
    """FLOPs of one training step (forward + backward) on a batch of real data."""
    examples = [student._example(d.prompt, d.response) for d in data[:batch_size]]
    inputs, targets = student._batch(examples)
    with FlopCounterMode(display=False) as counter:
        logits = student.model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1))
        loss.backward()
    student.model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    data = pretraining_data(ArithmeticDomain(), 4000, seed=0, exclude_prompts=set())
    random.Random(0).shuffle(data)
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} CPUs)")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = matmul_peak()
        for batch in args.batch_sizes:
            student = TinyStudent(TinyStudentConfig(batch_size=batch))
            flops = step_flops(student, data, batch)
            student.fit(data, steps=3, seed=0)  # warm up (first-call imports, allocator)
            started = time.perf_counter()
            student.fit(data, steps=args.steps, seed=1)
            seconds = time.perf_counter() - started
            achieved = flops * args.steps / seconds
            rows.append((threads, batch, flops, seconds / args.steps, achieved, peak))
    print()
    print(
        "| threads | batch | MFLOP/step | ms/step | training GFLOP/s | matmul peak GFLOP/s "
        "| share of peak |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for threads, batch, flops, per_step, achieved, peak in rows:
        print(
            f"| {threads} | {batch} | {flops / 1e6:.0f} | {1000 * per_step:.1f} | "
            f"{achieved / 1e9:.1f} | {peak / 1e9:.1f} | {achieved / peak:.2f} |"
        )


if __name__ == "__main__":
    main()
