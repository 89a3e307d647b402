"""How a benchmark's results were made: the record every results file keeps beside its rows.

Shared by the episode benchmarks (``state_vs_no_state.py``, ``oracle_strength.py``), which
merge new rows into an earlier file and so keep the records of the runs they merge with.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys
from typing import Any

import torch


def run_record(**extra: Any) -> dict[str, Any]:
    """The command that ran, when (UTC, to the minute), on what machine and torch, plus
    ``extra`` fields the benchmark adds."""
    return {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start",
        "torch": torch.__version__,
        **extra,
    }
