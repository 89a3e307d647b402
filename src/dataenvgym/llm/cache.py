"""A disk cache of chat completions in SQLite.

Every completion is stored under a hash of everything that determines it (model, messages,
sampling parameters, seed, response format), so re-running an episode with a warm cache makes
no HTTP calls and replays exactly the same answers. SQLite in WAL mode lets several processes
(a sweep sharing one cache) read while one writes; within a process one connection is shared
behind a lock, since a cache lookup costs microseconds next to a model call.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataenvgym.errors import DataEnvGymError
from dataenvgym.llm.errors import LLMError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    created REAL NOT NULL
)
"""


def cache_key(model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """The cache key of one request: sha256 of its canonical JSON.

    Canonical means sorted keys and fixed separators, so two dicts with the same content in a
    different order hash alike. Parameters whose value is None are dropped, so adding a new
    optional parameter later does not invalidate old caches.

    Args:
        model: Model name.
        messages: Chat messages as sent.
        params: Sampling parameters (temperature, max_tokens, seed, response_format, ...).

    Returns:
        A 64-character hex digest.
    """
    payload = {
        "model": model,
        "messages": [dict(m) for m in messages],
        "params": {k: v for k, v in params.items() if v is not None},
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedCompletion:
    """What the cache keeps of one completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    model: str


class LLMCacheError(LLMError, DataEnvGymError):
    """The cache file cannot be read: not an SQLite database, or a damaged one."""


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """An SQLite error while reading the cache becomes one line naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as err:
        raise LLMCacheError(
            f"LLM cache {path} cannot be read ({err}); if it is damaged, move it aside: "
            "the run then asks the endpoint again instead of replaying its answers"
        ) from err


class LLMCache:
    """A thread-safe SQLite store of completions.

    Args:
        path: The database file; parent folders are created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # check_same_thread=False: the connection is shared by worker threads, serialized by
        # self._lock. timeout: wait for another process's write lock instead of failing.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        with self._lock, _readable(self.path):
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()

    def get(self, key: str) -> CachedCompletion | None:
        """The cached completion for ``key``, or None on a miss."""
        with self._lock, _readable(self.path):
            row = self._conn.execute(
                "SELECT text, prompt_tokens, completion_tokens, finish_reason, model "
                "FROM completions WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return CachedCompletion(
            text=row[0],
            prompt_tokens=row[1],
            completion_tokens=row[2],
            finish_reason=row[3],
            model=row[4],
        )

    def put(self, key: str, completion: CachedCompletion, request: Mapping[str, Any]) -> None:
        """Store a completion; the request is kept beside it for inspection and export.

        Args:
            key: From :func:`cache_key`.
            completion: The answer to store.
            request: The request as sent (model, messages, params), stored as JSON.
        """
        request_json = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    completion.model,
                    request_json,
                    completion.text,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                    completion.finish_reason,
                    time.time(),
                ),
            )
            self._conn.commit()

    def delete(self, keys: Sequence[str]) -> None:
        """Forget the completions of ``keys`` (e.g. answers that never gave a valid object,
        so that a re-run against a fixed endpoint asks again instead of replaying them)."""
        with self._lock:
            self._conn.executemany("DELETE FROM completions WHERE key = ?", [(k,) for k in keys])
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock, _readable(self.path):
            (count,) = self._conn.execute("SELECT COUNT(*) FROM completions").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the connection; the file stays for the next run."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LLMCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KeyLocks:
    """One lock per cache key in flight, so identical concurrent requests make one call.

    Hold the key's lock across lookup, request and store; a second identical request waits
    and then finds the answer in the cache.

    Without it two identical prompts in one batch would both miss the cache, get two different
    answers, and a warm re-run (which sees only the last one stored) would not replay the run.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock of ``key`` for the ``with`` block; unused locks are dropped."""
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]
