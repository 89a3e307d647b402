"""Data-generation throughput of the LLM client against the loopback server.

The server answers every chat call after a fixed latency (200 ms by default), like a remote
model whose time is spent generating, not on our CPU. The table shows calls/s at
concurrency 1, 4 and 8 and the speedup over 1; then the last run is repeated against its warm
cache, which must make 0 calls.

    python bench/llm_concurrency.py [--calls 48] [--latency 0.2] [--levels 1 4 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from dataenvgym.llm import LLMClient, LLMConfig
from dataenvgym.testing import FakeOpenAIServer

KEY_ENV = "DATAENVGYM_BENCH_KEY"


def item_responder(request: dict[str, object]) -> str:
    """A small generated datum, as an engine would get back."""
    return '{"question": "What is 17 + 25?", "answer": "42"}'


def run(server: FakeOpenAIServer, cache: Path, calls: int, concurrency: int) -> tuple[float, int]:
    """Generate ``calls`` data with ``concurrency`` in flight; return (seconds, server calls)."""
    config = LLMConfig(
        model="fake-model",
        base_url=server.base_url,
        api_key_env=KEY_ENV,
        max_concurrency=concurrency,
        cache_path=cache,
    )
    batch = [[{"role": "user", "content": f"Write arithmetic item #{i}."}] for i in range(calls)]
    before = server.calls
    with LLMClient(config) as client:
        start = time.perf_counter()
        results = client.complete_many(batch, role="engine")
        elapsed = time.perf_counter() - start
    assert len(results) == calls and all(r is not None for r in results)
    return elapsed, server.calls - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "bench")

    print(f"{args.calls} calls, server latency {args.latency * 1000:.0f} ms, cold cache per row")
    print(f"{'concurrency':>11} | {'seconds':>7} | {'calls/s':>7} | {'speedup':>7} | server calls")
    print("-" * 58)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer(item_responder, latency_s=args.latency) as server,
    ):
        base_rate = None
        cache = Path(tmp)
        for level in args.levels:
            cache = Path(tmp) / f"cache_c{level}.sqlite"
            elapsed, made = run(server, cache, args.calls, level)
            rate = args.calls / elapsed
            base_rate = base_rate or rate
            speedup = rate / base_rate
            print(f"{level:>11} | {elapsed:7.2f} | {rate:7.1f} | {speedup:6.2f}x | {made}")
        elapsed, made = run(server, cache, args.calls, args.levels[-1])
        print(
            f"{'warm cache':>11} | {elapsed:7.2f} | {args.calls / elapsed:7.0f} | {'':>7} | {made}"
        )
        if made != 0:
            raise SystemExit(f"warm cache made {made} calls; expected 0")


if __name__ == "__main__":
    main()
