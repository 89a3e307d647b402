"""What the oracle's one-step look-ahead measured: each candidate allocation against uniform.

At every step the oracle (``dataenvgym.agents.oracle``) trains copies of the student on
several allocations of the same budget, scores each copy on its private items and submits
the best; its plan notes keep every candidate's private accuracy. This script reads those
notes from a board's oracle run folders and prints, per setting, how far each candidate
was above the uniform one, per step (mean ± 95 % t-interval over the steps of all seeds),
and how often the oracle chose it. The ``with-state`` candidate is the with-state rule
frozen at oracle revision 2 (progress × zpd, without the live agent's variance term and
fair trial: ``OracleConfig.with_state_allocation``), fed the oracle's own observations;
its row measures that rule, one step at a time, against uniform data and against the
privileged allocations (``floor …``, ``learnable``) on the same student. In Skill-List,
whose observation has no fit and whose rule has no fair trial, it is the live rule; in
Skill-Tree its first step (the explore step, which reads neither term) is the live one.
The privileged candidates are allocated from gains measured on the same private items that
then score them, so their edge over uniform is an optimistic estimate; uniform's and the
with-state rule's are not chosen on those items.

A second table asks whether a with-state rule could learn the privileged allocation from
history: per step, the correlation over subskills of each subskill's gain under uniform
with the gain the oracle measured for it the step before, and with the change of its
validation accuracy over the step before (what the state shows).

    python bench/oracle_look_ahead.py
    python bench/oracle_look_ahead.py --runs runs/leaderboard-standard/runs \\
        --runs runs/leaderboard-standard-s9/runs --domain vqa

A candidate whose counts equal an earlier one's is not trained again and has no entry in
that step's notes; its row counts only the steps where it was tried.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from dataenvgym.agents.oracle_notes import parse_look_ahead_notes
from dataenvgym.report.run_data import RunFolderError, load_run
from dataenvgym.scoring import t_interval

UNIFORM = "uniform"


@dataclass(frozen=True)
class Step:
    """One look-ahead: each tried candidate's private accuracy and the one chosen, each
    subskill's gain under uniform, and how its validation accuracy moved over the step
    before (what a with-state rule reads; ``None`` before the second step)."""

    seed: int
    iteration: int
    private_accuracy: dict[str, float]
    chosen: str
    gains: dict[str, float]
    validation_change: dict[str, float] | None


@dataclass
class Setting:
    """The oracle's steps in one domain × environment, over the seeds found."""

    domain: str
    env: str
    steps: list[Step] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return sorted({s.seed for s in self.steps})

    def labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update(dict.fromkeys(step.private_accuracy))
        return [label for label in seen if label != UNIFORM]


def read_settings(runs: list[Path], domain: str | None = None) -> list[Setting]:
    """Every oracle run folder under the folders ``runs``, grouped by domain and environment."""
    settings: dict[tuple[str, str], Setting] = {}
    found = sorted(p for folder in runs for p in folder.iterdir() if p.is_dir())
    for folder in found:
        try:
            run = load_run(folder)
        except RunFolderError:
            continue  # an unfinished or foreign folder: nothing to read
        if run.agent != "oracle" or (domain is not None and run.domain != domain):
            continue
        setting = settings.setdefault(
            (run.domain, run.env), Setting(domain=run.domain, env=run.env)
        )
        # Validation exact match per subskill after each iteration, as the report records it.
        validation = {i.index: dict(i.info.get("per_subskill", {})) for i in run.iterations}
        for iteration in run.iterations:
            noted = parse_look_ahead_notes(str((iteration.plan or {}).get("notes", "")))
            if noted is None:
                continue
            # The plan of iteration k was made from the observation after iteration k - 1.
            seen, before = validation.get(iteration.index - 1), validation.get(iteration.index - 2)
            change = (
                {unit: seen[unit] - before[unit] for unit in seen if unit in before}
                if seen and before
                else None
            )
            setting.steps.append(
                Step(
                    run.seed or 0,
                    iteration.index,
                    noted.private_accuracy,
                    noted.chosen,
                    noted.gains,
                    change,
                )
            )
    return sorted(settings.values(), key=lambda s: (s.domain, s.env))


def across_subskills(first: dict[str, float], second: dict[str, float]) -> float | None:
    """Pearson correlation over the subskills both measure (``None`` if it is undefined)."""
    units = sorted(set(first) & set(second))
    try:
        return statistics.correlation([first[u] for u in units], [second[u] for u in units])
    except statistics.StatisticsError:  # fewer than two units, or one side constant
        return None


def persistence_table(settings: list[Setting]) -> str:
    """A Markdown table: does a subskill's gain under uniform persist from step to step, and
    does the validation change a with-state rule sees predict it?"""
    lines = [
        "| domain | env | seeds | steps | r(gain before, gain) | r(validation change, gain) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for setting in settings:
        by_run = {(s.seed, s.iteration): s for s in setting.steps}
        persisted, predicted = [], []
        for step in setting.steps:
            previous = by_run.get((step.seed, step.iteration - 1))
            if previous is not None and step.validation_change is not None:
                r_gain = across_subskills(previous.gains, step.gains)
                r_change = across_subskills(step.validation_change, step.gains)
                if r_gain is not None and r_change is not None:
                    persisted.append(r_gain)
                    predicted.append(r_change)
        if len(persisted) < 2:
            continue
        seeds = ",".join(str(s) for s in setting.seeds)
        gain, change = t_interval(persisted), t_interval(predicted)
        lines.append(
            f"| {setting.domain} | {setting.env} | {seeds} | {len(persisted)} | "
            f"{gain.mean:+.2f} ± {gain.half_width:.2f} | "
            f"{change.mean:+.2f} ± {change.half_width:.2f} |"
        )
    return "\n".join(lines)


def table(settings: list[Setting]) -> str:
    """A Markdown table: per setting and candidate, its private gain over uniform."""
    lines = [
        "| domain | env | seeds | candidate | steps tried | − uniform (pts) | ≥ uniform | chosen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for setting in settings:
        seeds = ",".join(str(s) for s in setting.seeds)
        n = len(setting.steps)
        chosen_uniform = sum(s.chosen == UNIFORM for s in setting.steps)
        lines.append(
            f"| {setting.domain} | {setting.env} | {seeds} | uniform | {n} | 0 | | "
            f"{chosen_uniform}/{n} |"
        )
        for label in setting.labels():
            tried = [s for s in setting.steps if label in s.private_accuracy]
            diffs = [s.private_accuracy[label] - s.private_accuracy[UNIFORM] for s in tried]
            gain = t_interval(diffs)
            at_least = sum(d >= 0 for d in diffs)
            chosen = sum(s.chosen == label for s in setting.steps)
            lines.append(
                f"| {setting.domain} | {setting.env} | {seeds} | {label} | {len(tried)} | "
                f"{100 * gain.mean:+.2f} ± {100 * gain.half_width:.2f} | {at_least}/{len(tried)} | "
                f"{chosen}/{n} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=Path,
        action="append",
        help="a folder of run folders (repeatable; default runs/leaderboard-standard/runs)",
    )
    parser.add_argument("--domain", default=None, help="only this domain's settings")
    args = parser.parse_args(argv)
    folders: list[Path] = args.runs or [Path("runs/leaderboard-standard/runs")]
    for folder in folders:
        if not folder.is_dir():
            parser.error(f"{folder}: no such folder (run `dataenvgym leaderboard` first)")
    settings = read_settings(folders, args.domain)
    if not settings:
        parser.error(
            "no oracle run folders with look-ahead notes in " + ", ".join(map(str, folders))
        )
    print(table(settings))
    print(
        "\n− uniform: a candidate's private accuracy minus the uniform candidate's, on the "
        "same step (mean ± 95 % t over steps); ≥ uniform: steps where it was not below.\n"
    )
    print(persistence_table(settings))
    print(
        "\nr: Pearson correlation over a step's subskills (mean ± 95 % t over steps from the "
        "second look-ahead on) of each subskill's gain under uniform, measured by the oracle "
        "on its private items, with the one it measured the step before, and with the change "
        "of its validation accuracy over the step before (the state a with-state rule reads)."
    )


if __name__ == "__main__":
    main()
