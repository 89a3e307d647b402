"""How much of a leaderboard gap's seed-to-seed spread is the test split's own noise.

For each seed of one leaderboard setting, the final students of no-state, the oracle and
with state (their last checkpoints in the board's run folders) are scored again on the
test split, item by item. Two students of a seed answer the same items, so the standard
error of their accuracy difference that the finite test split alone causes is
``sqrt((discordant - diff**2) / n)``, where ``discordant`` is the share of items on which
exactly one of them is right. Comparing its square with the variance of the gaps over
seeds says how much of that variance a larger test split could remove; the rest is the
training's own seed noise, which only more seeds average out. Over a few seeds the sample
variance is itself noisy (with 7 seeds, 95 % of draws fall within 0.2-2.2 times the true
variance), so the ratio can exceed 1 where the gaps vary little.

    python bench/gap_test_noise.py --domain vqa --env skill-tree --seeds 0,1,2
    python bench/gap_test_noise.py --runs runs/leaderboard-standard/runs \\
        --domain tool-use --env skill-list --seeds 0,1,2,3,4,5,6

The run folders come from ``dataenvgym leaderboard`` (they are not kept in the repository),
named as the board names them for the standard suite's settings, or for those of
``--suite FILE``; each rescoring repeats the environment's reset (the base student is read
from its cache).
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from dataenvgym.checkpoint import latest_checkpoint
from dataenvgym.config import load_config
from dataenvgym.errors import ConfigError, first_validation_error
from dataenvgym.leaderboard.suite import LeaderboardSuite, load_suite
from dataenvgym.registry import make_env
from dataenvgym.report.run_data import RunFolderError, load_run

REFERENCE = "no-state"
COMPARED = ("oracle", "with-state")


@dataclass(frozen=True)
class PairedGap:
    """One seed's accuracy difference against no-state on the same test items."""

    seed: int
    agent: str
    difference: float
    discordant: float
    test_standard_error: float


def final_test_correctness(run: Path, seed: int) -> list[bool]:
    """Per test item, whether the run's final student answers it correctly."""
    try:
        recorded = load_run(run).summary["final"]["test_accuracy"]
    except RunFolderError as err:
        raise SystemExit(str(err)) from err
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        raise SystemExit(f"{run} kept no checkpoint of its final student")
    env = make_env(**load_config(run / "config.yaml").env_kwargs())
    env.reset(seed=seed)  # rebuilds the seed's splits and base student
    env.student.load(checkpoint / "student")
    correct = [instance.correct for instance in env.evaluate_test().instances]
    # Rescoring must give the run's own final accuracy; other numerics (another torch or
    # instruction set) would score another student than the board's.
    rescored = sum(correct) / len(correct)
    if abs(rescored - recorded) > 1e-9:
        raise SystemExit(f"{run}: rescored {rescored:.4f}, the run recorded {recorded:.4f}")
    return correct


def paired_gap(seed: int, agent: str, ours: list[bool], reference: list[bool]) -> PairedGap:
    n = len(reference)
    difference = (sum(ours) - sum(reference)) / n
    discordant = sum(a != b for a, b in zip(ours, reference, strict=True)) / n
    return PairedGap(
        seed, agent, difference, discordant, math.sqrt((discordant - difference**2) / n)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/leaderboard-standard/runs"))
    parser.add_argument("--domain", required=True)
    parser.add_argument("--env", required=True, help="open-ended, skill-list or skill-tree")
    parser.add_argument("--suite", type=Path, help="suite file (default: the standard suite)")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    # The board's own episodes name the folders, so this reads exactly the runs it scored;
    # the agents are this script's (the suite file's own list does not name folders).
    try:
        suite = load_suite(args.suite) if args.suite else LeaderboardSuite()
        settings = {"domains": [args.domain], "envs": [args.env], "seeds": seeds}
        suite = LeaderboardSuite.model_validate(
            {**suite.model_dump(), **settings, "agents": list(COMPARED)}
        )
        episodes = suite.episodes()
    except ValidationError as err:
        parser.error(first_validation_error(err))
    except ConfigError as err:
        parser.error(str(err))
    folders = {(e.config.agent, e.config.seed): e.folder_name for e in episodes}

    gaps: list[PairedGap] = []
    print("| seed | agent | − no-state (pts) | discordant items | test-split SE (pts) |")
    print("| --- | --- | --- | --- | --- |")
    for seed in seeds:
        runs = {a: args.runs / folders[a, seed] for a in (REFERENCE, *COMPARED)}
        correct = {agent: final_test_correctness(run, seed) for agent, run in runs.items()}
        for agent in COMPARED:
            gap = paired_gap(seed, agent, correct[agent], correct[REFERENCE])
            gaps.append(gap)
            print(
                f"| {seed} | {agent} | {100 * gap.difference:+.2f} | "
                f"{100 * gap.discordant:.1f} % | {100 * gap.test_standard_error:.2f} |",
                flush=True,
            )
    if len(seeds) < 2:
        return
    print()
    print("| agent | gap variance over seeds (pts²) | test-split variance (pts²) | ratio |")
    print("| --- | --- | --- | --- |")
    for agent in COMPARED:
        mine = [g for g in gaps if g.agent == agent]
        spread = statistics.variance(100 * g.difference for g in mine)
        split = statistics.mean((100 * g.test_standard_error) ** 2 for g in mine)
        print(f"| {agent} | {spread:.2f} | {split:.2f} | {split / spread:.2f} |")


if __name__ == "__main__":
    main()
