"""The scoring mutation bench runs end to end and finds what it should (small sizes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType


def test_tool_use_arithmetic_and_vqa_have_no_false_verdicts(
    tmp_path: Path, load_bench: Callable[[str], ModuleType]
) -> None:
    bench = load_bench("scoring_mutation")
    out = tmp_path / "sm"
    bench.main(["--domains", "tool-use,arithmetic,vqa", "--items", "2", "--out", str(out)])
    result = json.loads(out.with_suffix(".json").read_text())
    assert "tool-use" in out.with_suffix(".md").read_text()
    tooluse = result["domains"]["tool-use"]
    assert len(tooluse["subskills"]) == 16
    assert tooluse["operators"]["hard-coded (same answer)"]["mutant"] > 0
    for name, domain in result["domains"].items():
        total = domain["total"]
        assert total["mutants"] > 0 and total["equivalents"] > 0, name
        assert total["score_false_accepts"] == total["verify_false_accepts"] == 0, name
        assert total["score_false_rejects"] == total["verify_false_rejects"] == 0, name


def test_code_variants_are_checked_by_running_them(load_bench: Callable[[str], ModuleType]) -> None:
    import random

    mutation_code = load_bench("mutation_code")
    rng = random.Random(0)
    reference = "sorted(a,key=lambda x:x%7)"
    values = mutation_code.inputs("a", reference, 200, rng)
    candidates = [
        *mutation_code.variants(reference, "a", values[1], rng, 50),
        ("not really wrong", "sorted(a,key=lambda y:y%7)", True),
        ("not really equivalent", "sorted(a)", False),
    ]
    kept, dropped = mutation_code.checked(reference, "a", candidates, values)
    names = {(op, wrong) for op, _, wrong in kept}
    assert ("wrong tie-break", True) in names and ("renamed bound variable", False) in names
    assert dropped >= 2
    assert not {"not really wrong", "not really equivalent"} & {op for op, _, _ in kept}
