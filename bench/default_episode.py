"""The default episode, timed as a new user meets it: `dataenvgym run` with an empty cache.

Runs ``dataenvgym run`` (Skill-Tree, built-in arithmetic, built-in student, offline teacher
with state, seed 0) in a fresh process whose cache folder is empty, so the wall time includes
pretraining the base student once. Writes the run's summary, the wall time, the peak memory
of the process and how it was made (command, date, machine, torch version, numerics).

    python bench/default_episode.py
    python bench/default_episode.py --out bench/results/default_episode.json -- --numerics portable
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def machine() -> str:
    """CPU model, logical cores and the 1-minute load average before the run."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} logical cores, 1-min load average {load:.1f} at start"


def run(extra: list[str]) -> dict[str, Any]:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        command = [sys.executable, "-c", "from dataenvgym.cli import main; main()", "run"]
        command += ["--out", str(folder), *extra]
        where = machine()
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        summary = json.loads((folder / "summary.json").read_text())
    numerics = summary.get("numerics", {})
    extra_args = ["--", *extra] if extra else []
    return {
        "command": shlex.join(["python", "bench/default_episode.py", *extra_args]),
        "date": dt.date.today().isoformat(),
        "machine": where,
        "torch": torch.__version__,
        "numerics": numerics,
        "wall_seconds": wall,
        "base_student_seconds": summary.get("base_student_seconds"),
        "peak_rss_gb": peak_kb / 1024**2,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/default_episode.json"))
    parser.add_argument("extra", nargs="*", help="arguments for `dataenvgym run` (after --)")
    args = parser.parse_args()
    result = run(args.extra)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    final, initial = result["summary"]["final"], result["summary"]["initial"]
    print(
        f"test {initial['test_accuracy']:.3f} -> {final['test_accuracy']:.3f}, "
        f"wall {result['wall_seconds']:.1f} s "
        f"(base student {result['base_student_seconds']:.1f} s), "
        f"peak {result['peak_rss_gb']:.2f} GB; {result['machine']}"
    )


if __name__ == "__main__":
    main()
