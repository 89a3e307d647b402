"""Reading back what the oracle's look-ahead measured, from the notes of its plans.

Run folders keep only a plan's notes, so this is how a reader of a run folder
(``bench/oracle_look_ahead.py``) sees each step's candidates and the one chosen.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_NOTED_GAINS = re.compile(r"gains under uniform (\{[^}]*\})")
_NOTED_CANDIDATES = re.compile(r"private accuracy per candidate (\{[^}]*\}); chose (.+?): \{")


@dataclass(frozen=True)
class NotedLookAhead:
    """A look-ahead as a plan's notes keep it (values rounded as :meth:`OraclePolicy.notes`
    writes them).

    Attributes:
        gains: Per subskill, what one uniform step gained on the private items (exact match
            plus ``partial_weight`` × partial credit).
        private_accuracy: Each tried candidate's private accuracy after its step.
        chosen: The label of the candidate submitted.
    """

    gains: dict[str, float]
    private_accuracy: dict[str, float]
    chosen: str


def parse_look_ahead_notes(notes: str) -> NotedLookAhead | None:
    """Read back what :meth:`OraclePolicy.notes` wrote into a plan.

    Run folders keep only the notes of a look-ahead, so this is how a reader of a run folder
    (``bench/oracle_look_ahead.py``) sees what the oracle measured. Returns ``None`` for
    notes that are not an oracle look-ahead's, or not whole.
    """
    tried_match = _NOTED_CANDIDATES.search(notes)
    gains_match = _NOTED_GAINS.search(notes)
    if tried_match is None or gains_match is None:
        return None
    try:
        tried = ast.literal_eval(tried_match.group(1))
        gains = ast.literal_eval(gains_match.group(1))
    except (ValueError, SyntaxError):  # edited or cut notes: not a look-ahead to read
        return None
    if not isinstance(tried, dict) or "uniform" not in tried or not isinstance(gains, dict):
        return None
    return NotedLookAhead(
        gains={str(unit): float(value) for unit, value in gains.items()},
        private_accuracy={str(label): float(value) for label, value in tried.items()},
        chosen=tried_match.group(2),
    )
