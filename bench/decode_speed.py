"""Greedy decoding speed of the built-in student on each text domain's evaluation splits.

Evaluation is the student answering every validation item after each iteration and every
test item at the end: in code and tool use, whose answers run to 60 characters, it is about a
third of an episode. This times ``TinyStudent.predict_prompts`` on the validation and test
prompts of seed 0 with the domain's pretrained base student (pretrained here if the cache has
none; that time is not counted), one thread, best of ``--repeats``. ``--label`` names the code
that ran (e.g. a commit), so runs of two versions merge into one table:

    python bench/decode_speed.py --label current
    PYTHONPATH=/path/to/older/src python bench/decode_speed.py --label older --merge
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

import dataenvgym
from dataenvgym.registry import make_env
from dataenvgym.students.tiny import TinyStudent
from run_record import run_record

RESULTS = Path(__file__).parent / "results"
DOMAINS = ("arithmetic", "code", "tool-use")


def measure(domain: str, repeats: int) -> dict[str, Any]:
    """Decode one domain's evaluation prompts; seconds, items a second, answer lengths."""
    env = make_env("skill-tree", domain, env_config={"max_iterations": 1})
    env.reset(seed=0)
    student = env.student
    assert isinstance(student, TinyStudent)
    prompts = [inst.prompt for inst in [*env.validation, *env.test]]
    answers: list[str] = []
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        answers = student.predict_prompts(prompts)
        best = min(best, time.perf_counter() - started)
    return {
        "domain": domain,
        "items": len(prompts),
        "seconds": round(best, 3),
        "items_per_second": round(len(prompts) / best, 1),
        "mean_answer_chars": round(sum(map(len, answers)) / len(answers), 1),
        "longest_answer_chars": max(map(len, answers)),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one row per label and domain."""
    out = [
        "| decoder | domain | items | seconds | items/s | mean answer (chars) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(rows, key=lambda r: (r["domain"], r["label"])):
        out.append(
            f"| {r['label']} | {r['domain']} | {r['items']} | {r['seconds']:.2f} "
            f"| {r['items_per_second']:,.0f} | {r['mean_answer_chars']} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="current", help="Names the code that ran.")
    parser.add_argument("--merge", action="store_true", help="Keep other labels' rows.")
    parser.add_argument("--out", type=Path, default=RESULTS / "decode_speed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = args.out.with_suffix(".json")
    old = json.loads(path.read_text()) if args.merge and path.exists() else {"runs": []}
    runs = [r for r in old["runs"] if r["label"] != args.label]
    record = run_record(
        label=args.label,
        dataenvgym=getattr(dataenvgym, "__version__", "?"),
        numerics=os.environ.get("ATEN_CPU_CAPABILITY", "native") + " CPU kernels, one thread",
    )
    rows = []
    for domain in args.domains:
        row = {"label": args.label, **measure(domain, args.repeats)}
        print(row, flush=True)
        rows.append(row)
    runs.append({**record, "rows": rows})
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    write_markdown(args.out.with_suffix(".md"), runs, args.repeats)
    print(table([row for run in runs for row in run["rows"]]))


def write_markdown(path: Path, runs: list[dict[str, Any]], repeats: int) -> None:
    """The runs' records, then one table of all their rows."""
    header = "\n".join(
        f"- {r['label']}: `{r['command']}`, {r['date']}, {r['machine']}, {r['numerics']}"
        for r in runs
    )
    rows = [row for run in runs for row in run["rows"]]
    path.write_text(
        "Greedy decoding of the evaluation splits (seed 0), base student, one thread, "
        f"best of {repeats}.\n\n{header}\n\n{table(rows)}\n"
    )


if __name__ == "__main__":
    main()
