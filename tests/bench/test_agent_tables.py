"""The tables of the agent comparison benches: paired by seed, every agent against no-state."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


def _row(agent: str, seed: int, final: float, env: str = "skill-list") -> dict[str, Any]:
    return {
        "domain": "arithmetic",
        "env": env,
        "agent": agent,
        "seed": seed,
        "initial": 0.3,
        "final": final,
        "wall_seconds": 10.0,
    }


def test_every_agent_is_paired_with_no_state_on_the_seeds_all_finished(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("state_vs_no_state")
    rows = [
        _row("no-state", 0, 0.50),
        _row("no-state", 1, 0.40),
        _row("with-state", 0, 0.56),
        _row("with-state", 1, 0.44),
        _row("weakest-first", 0, 0.30),
        _row("weakest-first", 1, 0.30),
        _row("weakest-first", 2, 0.90),  # no-state has no seed 2: left out of every row
    ]
    lines = {line.split(" | ")[2]: line for line in bench.table(rows).splitlines()[2:]}
    assert "+5.0 ±" in lines["with-state"]  # mean of +6 and +4
    assert "-15.0 ±" in lines["weakest-first"]  # mean of -20 and -10, seed 2 unpaired
    assert lines["no-state"].endswith("|  |")  # no difference to itself
    assert "0.300 ±" in lines["weakest-first"]


def test_oracle_variants_are_paired_with_both_references_by_seed(
    load_bench: Callable[[str], ModuleType],
) -> None:
    bench = load_bench("oracle_strength")
    reference = [
        _row("no-state", 0, 0.50),
        _row("no-state", 1, 0.40),
        _row("with-state", 0, 0.55),
    ]
    rows = [
        {**_row("oracle", 0, 0.60), "variant": "a"},
        {**_row("oracle", 1, 0.52), "variant": "a"},
        {**_row("oracle", 0, 0.50), "variant": "b", "wall_seconds": 30.0},
    ]
    lines = bench.table(rows, reference).splitlines()[2:]
    assert len(lines) == 2
    a, b = (line.split(" | ") for line in lines)
    assert a[2:5] == ["a", "0,1", "0.560"]
    assert a[5].startswith("+11.0 ±") and a[5].endswith("(2)")  # +10 and +12
    assert a[6] == "+5.0 (1 seed)"  # with-state ran seed 0 only
    assert b[5] == "+0.0 (1 seed)" and b[7] == "30 |"


def test_rows_of_another_base_rehearsal_are_kept_apart_and_named(
    load_bench: Callable[[str], ModuleType], tmp_path: Any
) -> None:
    bench = load_bench("state_vs_no_state")
    plain = _row("no-state", 0, 0.50)
    rehearsed = {**_row("no-state", 0, 0.60), "base_rehearsal": 0.5}
    assert bench._merged([plain], [rehearsed]) == [plain, rehearsed]  # neither replaces
    assert bench._merged([plain, rehearsed], [{**rehearsed, "final": 0.7}])[0] == plain
    out = tmp_path / "rows.json"
    meta = {"command": "c", "date": "d", "machine": "m", "torch": "t"}
    bench._save(out, [rehearsed], {**meta, "trainer_mode": "retrain", "base_rehearsal": 0.5})
    assert "## The retrain trainer, with base rehearsal 0.5" in out.with_suffix(".md").read_text()
    bench._save(out, [plain], {**meta, "trainer_mode": "continue"})
    assert "## The continue trainer\n" in out.with_suffix(".md").read_text()
