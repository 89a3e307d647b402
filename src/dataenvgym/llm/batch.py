"""Running many calls at once while keeping their order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from dataenvgym.llm.errors import LLMCallFailed

A = TypeVar("A")
T = TypeVar("T")


def map_in_order(
    fn: Callable[[A], T], items: Sequence[A], max_workers: int, skip_failures: bool
) -> list[T | None]:
    """Apply ``fn`` to ``items`` on up to ``max_workers`` threads; results in input order.

    Threads, not asyncio: the time goes into waiting for the server, and threads let callers
    stay synchronous. The client's own semaphore still bounds requests in flight when several
    batches run at once.

    Args:
        fn: The call to make per item.
        items: The inputs.
        max_workers: Most items in progress at once.
        skip_failures: Put None where ``fn`` raised :class:`LLMCallFailed` instead of raising
            it; any other exception is raised either way.

    Returns:
        One result per item (None only for skipped failures).
    """
    if not items:
        return []
    results: list[T | None] = []
    with ThreadPoolExecutor(
        max_workers=min(max_workers, len(items)), thread_name_prefix="llm"
    ) as pool:
        futures = [pool.submit(fn, item) for item in items]
        for index, future in enumerate(futures):
            try:
                results.append(future.result())
            except LLMCallFailed:
                if not skip_failures:
                    _cancel(futures[index:])
                    raise
                results.append(None)
            except BaseException:
                _cancel(futures[index:])
                raise
    return results


def _cancel(futures: Sequence[Future[T]]) -> None:
    # Items not started yet are dropped; running ones finish (their answers land in the cache).
    for future in futures:
        future.cancel()
