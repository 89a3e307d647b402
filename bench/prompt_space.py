"""How much of a teacher's data each built-in unit can keep: prompt spaces and held-out share.

The environment drops every training datum whose prompt is a validation or test prompt (the
contamination guard), and an engine cannot know those prompts. Where a subskill's generator
has few distinct prompts, a large share of what any teacher writes for it is dropped, and
what it asks for is not what its student trains on. Per subskill, this draws ``--draws``
data with the domain's generator and reports how many distinct prompts they have (a floor
on the space's size) and which share of the draws are held-out prompts of the seed's
splits, i.e. dropped:

    python bench/prompt_space.py
    python bench/prompt_space.py --domains code --draws 2000 --seed 11
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from dataenvgym.protocols import ProceduralDomain
from dataenvgym.registry import make_domain
from run_record import run_record

RESULTS = Path(__file__).parent / "results"
DOMAINS = ("arithmetic", "code", "tool-use")


def measure(name: str, draws: int, seed: int) -> list[dict[str, Any]]:
    """One row per subskill of ``name``: distinct prompts among the draws, share held out."""
    domain = make_domain(name)
    assert isinstance(domain, ProceduralDomain)
    validation, test = domain.splits(seed)
    held_out = {item.prompt for item in [*validation, *test]}
    per_unit = Counter((item.skill, item.subskill) for item in [*validation, *test])
    rows = []
    for skill in domain.skills():
        for subskill in skill.subskills:
            rng = random.Random(f"prompt-space:{seed}:{skill.name}/{subskill}")
            prompts = [d.prompt for d in domain.generate(skill.name, subskill, draws, rng)]
            rows.append(
                {
                    "domain": name,
                    "unit": f"{skill.name}/{subskill}",
                    "draws": len(prompts),
                    "distinct": len(set(prompts)),
                    "held_out_items": per_unit[(skill.name, subskill)],
                    "dropped_share": round(sum(p in held_out for p in prompts) / len(prompts), 3),
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| domain | unit | distinct prompts in draws | held-out items | share dropped |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {r['domain']} | {r['unit']} | {r['distinct']:,} of {r['draws']:,} "
            f"| {r['held_out_items']} | {100 * r['dropped_share']:.0f} % |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "prompt_space")
    args = parser.parse_args()
    record = run_record(numerics="not applicable (no floating point)")
    rows = [row for name in args.domains for row in measure(name, args.draws, args.seed)]
    args.out.with_suffix(".json").write_text(json.dumps({**record, "rows": rows}, indent=2) + "\n")
    text = (
        f"Per subskill, {args.draws:,} data drawn with the domain's generator against the "
        f"validation and test splits of seed {args.seed}: distinct prompts among them, the "
        "held-out items of that subskill, and the share of the draws whose prompt is held "
        "out (what the contamination guard drops from any teacher's data for it).\n\n"
        f"- `{record['command']}`, {record['date']}, {record['machine']}\n\n{table(rows)}\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(table(rows))


if __name__ == "__main__":
    main()
