"""The scoring mutation bench runs end to end and finds what it should (small sizes)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_use_arithmetic_and_vqa_have_no_false_verdicts(tmp_path: Path) -> None:
    bench = _load("scoring_mutation")
    out = tmp_path / "sm"
    bench.main(["--domains", "tool-use,arithmetic,vqa", "--items", "2", "--out", str(out)])
    result = json.loads(out.with_suffix(".json").read_text())
    assert "tool-use" in out.with_suffix(".md").read_text()
    tooluse = result["domains"]["tool-use"]
    assert len(tooluse["subskills"]) == 12
    assert tooluse["operators"]["hard-coded (same answer)"]["mutant"] > 0
    for name, domain in result["domains"].items():
        total = domain["total"]
        assert total["mutants"] > 0 and total["equivalents"] > 0, name
        assert total["score_false_accepts"] == total["verify_false_accepts"] == 0, name
        assert total["score_false_rejects"] == total["verify_false_rejects"] == 0, name


def test_code_variants_are_checked_by_running_them() -> None:
    import random

    mutation_code = _load("mutation_code")
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
