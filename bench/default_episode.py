"""The default episode, timed as a new user meets it: `dataenvgym run` with an empty cache.

Runs ``dataenvgym run`` (Skill-Tree, built-in arithmetic, built-in student, offline teacher
with state, seed 0) in a fresh process whose cache folder is empty, so the times include
pretraining the base student once. Records the run's summary, the wall time, the CPU time
(user + system, which depends far less than the wall time on what else the machine runs),
the peak memory, and how it was made (command, date, machine and its load, torch version,
numerics).

    python bench/default_episode.py
    python bench/default_episode.py --out default_episode.json -- --numerics portable

A run made elsewhere, e.g. ``/usr/bin/time -v bash scripts/run-default.sh`` on a fresh
clone, is recorded from its run folder and the ``time -v`` log instead:

    python bench/default_episode.py --from-run runs/skill-tree-... --time-log time.log
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def machine() -> str:
    """CPU model, logical cores and the 1-minute load average now."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} logical cores, 1-minute load average {load:.1f}"


def record(summary: dict[str, Any], command: str, where: str, **times: float) -> dict[str, Any]:
    import torch

    return {
        "command": command,
        "date": dt.date.today().isoformat(),
        "machine": where,
        "torch": torch.__version__,
        "numerics": summary.get("numerics", {}),
        **times,
        "base_student_seconds": summary.get("base_student_seconds"),
        "summary": summary,
    }


def run(extra: list[str]) -> dict[str, Any]:
    """Run the episode here, in a fresh process with an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        command = [sys.executable, "-c", "from dataenvgym.cli import main; main()", "run"]
        command += ["--out", str(folder), *extra]
        where = machine() + " at start"
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = json.loads((folder / "summary.json").read_text())
    extra_args = ["--", *extra] if extra else []
    return record(
        summary,
        shlex.join(["python", "bench/default_episode.py", *extra_args]),
        where,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_gb=usage.ru_maxrss / 1024**2,
    )


def _time_field(log: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}.*?: (.+)$", log, re.MULTILINE)
    if match is None:
        raise SystemExit(f"the time log has no {name!r} line; make it with /usr/bin/time -v")
    return match.group(1).strip()


def from_run(folder: Path, time_log: Path, command: str, where: str) -> dict[str, Any]:
    """Record a finished run folder and the ``/usr/bin/time -v`` log of its command."""
    log = time_log.read_text()
    clock = [float(part) for part in _time_field(log, "Elapsed (wall clock) time").split(":")]
    wall = sum(value * 60**power for power, value in enumerate(reversed(clock)))
    cpu = float(_time_field(log, "User time")) + float(_time_field(log, "System time"))
    peak_kb = float(_time_field(log, "Maximum resident set size"))
    summary = json.loads((folder / "summary.json").read_text())
    return record(
        summary, command, where, wall_seconds=wall, cpu_seconds=cpu, peak_rss_gb=peak_kb / 1024**2
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/default_episode.json"))
    parser.add_argument("--from-run", type=Path, help="record this finished run folder")
    parser.add_argument("--time-log", type=Path, help="its /usr/bin/time -v output")
    parser.add_argument("--command", default="", help="the command that made it")
    parser.add_argument("--machine", default="", help="where and under what load it ran")
    parser.add_argument(
        "--setup-seconds", type=float, help="wall time of scripts/setup.sh on that clone, if timed"
    )
    parser.add_argument("extra", nargs="*", help="arguments for `dataenvgym run` (after --)")
    args = parser.parse_args()
    if args.from_run:
        if not (args.time_log and args.command and args.machine):
            parser.error("--from-run needs --time-log, --command and --machine")
        result = from_run(args.from_run, args.time_log, args.command, args.machine)
        if args.setup_seconds is not None:
            result["setup_seconds"] = args.setup_seconds
    else:
        result = run(args.extra)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    final, initial = result["summary"]["final"], result["summary"]["initial"]
    print(
        f"test {initial['test_accuracy']:.3f} -> {final['test_accuracy']:.3f}, "
        f"wall {result['wall_seconds']:.1f} s, CPU {result['cpu_seconds']:.1f} s, "
        f"peak {result['peak_rss_gb']:.2f} GB; {result['machine']}"
    )


if __name__ == "__main__":
    main()
