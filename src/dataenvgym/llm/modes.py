"""Which way of asking for JSON an endpoint takes, found once and then kept.

The modes, best first: ``tools`` (the schema as a forced function call, only when configured),
``json_schema`` (``response_format`` with the schema), ``json_object`` (JSON mode without a
schema) and ``text`` (the schema only in the prompt). An endpoint steps down when it refuses
a mode with a 400/422 and the next mode works, or when its first answers in a mode hold no
JSON at all (it ignored the request). Every step is recorded with its reason, and
``llm_usage.json`` shows the mode in use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

#: Answers in a mode that all hold no JSON before the mode counts as ignored.
IGNORED_AFTER = 2


class OutputModes:
    """The ladder of modes of one endpoint and where on it the endpoint stands.

    Args:
        ladder: Modes to try, best first (``LLMConfig.output_modes()``).
    """

    def __init__(self, ladder: Sequence[str]) -> None:
        self.ladder = list(ladder)
        self._index = 0
        # Lowest mode reached by refusals (4xx): a fact about the endpoint that a later
        # session may start from. Steps for ignored requests are not kept: a fixed endpoint
        # deserves a fresh look.
        self._refused_index = 0
        self._lock = threading.Lock()
        self._changes: list[dict[str, str]] = []
        self._answers: dict[str, list[int]] = {}  # mode -> [with JSON, without JSON]

    @property
    def current(self) -> str:
        """The mode requests are sent in now."""
        with self._lock:
            return self.ladder[self._index]

    def below(self, mode: str) -> list[str]:
        """The modes under ``mode`` on the ladder, best first."""
        if mode not in self.ladder:
            return []
        return self.ladder[self.ladder.index(mode) + 1 :]

    def step_down(self, mode: str, to: str, reason: str, *, refused: bool = True) -> bool:
        """Move from ``mode`` to ``to`` unless the endpoint already stands lower.

        Args:
            mode: The mode that failed.
            to: The mode to use from now on.
            reason: Why, as recorded.
            refused: The endpoint refused ``mode`` (4xx), rather than ignoring it.

        Returns:
            True when this call moved it (the caller logs it once).
        """
        with self._lock:
            if to not in self.ladder:
                return False
            if refused:
                self._refused_index = max(self._refused_index, self.ladder.index(to))
            if self.ladder.index(to) <= self._index:
                return False
            self._index = self.ladder.index(to)
            self._changes.append({"from": mode, "to": to, "reason": reason})
            return True

    def resume_at(self, mode: str, reason: str = "refused in an earlier session") -> None:
        """Start at ``mode`` (found before, e.g. by an earlier session of the run folder)."""
        with self._lock:
            if mode in self.ladder and self.ladder.index(mode) > self._index:
                self._refused_index = max(self._refused_index, self.ladder.index(mode))
                self._changes.append(
                    {"from": self.ladder[self._index], "to": mode, "reason": reason}
                )
                self._index = self.ladder.index(mode)

    def note_answer(self, mode: str, has_json: bool) -> None:
        """Count a fresh structured answer sent in ``mode``; step down when the endpoint's
        first answers in it all ignored the request (none held any JSON)."""
        if mode == "text":
            return
        with self._lock:
            counts = self._answers.setdefault(mode, [0, 0])
            counts[0 if has_json else 1] += 1
            ignored = counts[0] == 0 and counts[1] >= IGNORED_AFTER
        if ignored:
            lower = self.below(mode)
            if lower:
                reason = f"{IGNORED_AFTER} answers in {mode} held no JSON"
                self.step_down(mode, lower[0], reason, refused=False)

    def to_dict(self) -> dict[str, Any]:
        """What ``llm_usage.json`` records: the ladder, the mode in use and every change."""
        with self._lock:
            return {
                "ladder": list(self.ladder),
                "mode": self.ladder[self._index],
                "refused_down_to": self.ladder[self._refused_index],
                "changes": [dict(c) for c in self._changes],
                "answers": {
                    m: {"with_json": c[0], "without_json": c[1]} for m, c in self._answers.items()
                },
            }
