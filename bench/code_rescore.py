"""Rescore a code run folder's validation answers with the current scorer.

Reads every ``iteration_*/val_results.jsonl`` of a run folder (the student's answers and the
verdicts the run recorded), scores the same answers again with ``CodeDomain.score_many`` as
it is now, and prints per iteration the accuracy recorded and rescored, and per subskill
the answers whose verdict changed. The same answers under two scorers: only the scorer
differs.

    python bench/code_rescore.py runs/code-episode --out bench/results/code_rescore.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from collections import Counter
from pathlib import Path

from dataenvgym.domains.code.domain import CodeDomain
from dataenvgym.types import TaskInstance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    domain = CodeDomain()
    lines = [
        f"# Code answers rescored: {args.run.name}",
        "",
        f"`python bench/code_rescore.py {args.run}` — "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, Python {platform.python_version()}",
        "",
        "| iteration | items | recorded accuracy | rescored accuracy | right → wrong "
        "| wrong → right |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    flipped: Counter[str] = Counter()
    examples: dict[str, tuple[str, str]] = {}
    for folder in sorted(args.run.glob("iteration_*")):
        path = folder / "val_results.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        instances = [TaskInstance(**row["instance"]) for row in rows]
        scores = domain.score_many(instances, [row["prediction"] for row in rows])
        down = up = 0
        for row, score in zip(rows, scores, strict=True):
            if row["correct"] and not score.correct:
                down += 1
                key = f"{row['instance']['skill']}/{row['instance']['subskill']}"
                flipped[key] += 1
                examples.setdefault(key, (row["instance"]["prompt"], row["prediction"]))
            up += (not row["correct"]) and score.correct
        recorded = sum(row["correct"] for row in rows) / len(rows)
        rescored = sum(s.correct for s in scores) / len(rows)
        lines.append(
            f"| {folder.name} | {len(rows)} | {recorded:.3f} | {rescored:.3f} | {down} | {up} |"
        )
    lines += ["", "Answers accepted before and rejected now, per subskill (all iterations):", ""]
    lines += [
        "| subskill | answers | example prompt | example answer |",
        "| --- | --- | --- | --- |",
    ]
    for key, count in flipped.most_common():
        prompt, answer = examples[key]
        cell = answer.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {key} | {count} | `{prompt}` | `{cell}` |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
