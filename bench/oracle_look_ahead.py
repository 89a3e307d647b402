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

    python bench/oracle_look_ahead.py
    python bench/oracle_look_ahead.py --runs runs/leaderboard-standard/runs \\
        --runs runs/leaderboard-standard-s9/runs --domain vqa

A candidate whose counts equal an earlier one's is not trained again and has no entry in
that step's notes; its row counts only the steps where it was tried.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from dataenvgym.agents.oracle import parse_look_ahead_notes
from dataenvgym.report.run_data import RunFolderError, load_run
from dataenvgym.scoring import t_interval

UNIFORM = "uniform"


@dataclass(frozen=True)
class Step:
    """One look-ahead: each tried candidate's private accuracy and the one chosen."""

    seed: int
    iteration: int
    private_accuracy: dict[str, float]
    chosen: str


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
        for iteration in run.iterations:
            parsed = parse_look_ahead_notes(str((iteration.plan or {}).get("notes", "")))
            if parsed is not None:
                tried, chosen = parsed
                setting.steps.append(Step(run.seed or 0, iteration.index, tried, chosen))
    return sorted(settings.values(), key=lambda s: (s.domain, s.env))


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
        "same step (mean ± 95 % t over steps); ≥ uniform: steps where it was not below."
    )


if __name__ == "__main__":
    main()
