"""The board: per setting and agent, test gain, normalized teaching score, data efficiency.

Built from run summaries only (``summary.json``), so a board can be rebuilt from finished run
folders at any time.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dataenvgym.scoring import (
    Efficiency,
    Interval,
    NormalizedScore,
    data_efficiency,
    efficiency_over_seeds,
    normalized_score,
    reference_gap,
    t_interval,
)

Setting = tuple[str, str, int, int, str]  # domain, env, budget, iterations, student
NO_STATE, ORACLE = "no-state", "oracle"


@dataclass(frozen=True)
class BoardRow:
    """One agent in one setting.

    Attributes:
        setting: (domain, env, budget per iteration, iterations, student).
        agent: The agent's name as the suite lists it.
        privileged: The agent saw more than the observation (the oracle).
        gain: Test-accuracy gain over the base student, mean and 95 % interval over seeds.
        final: Final test accuracy over seeds.
        score: Normalized teaching score, a ratio of means with Fieller's interval
            (``None`` for the two references).
        efficiency: Data to reach no-state's final test accuracy, as a fraction of its data.
        oracle_gap: The setting's oracle-minus-no-state gain, over the seeds that have both
            reference runs (the score's denominator where the agent ran on those seeds).
        paired_gap: The same gap seed by seed (oracle and no-state share a seed's base
            student and splits), mean and 95 % interval: whether the setting separates the
            references by more than seed noise. ``None`` without a shared seed.
        data_trained: Training data the environment kept over the episode (after its
            duplicate and contamination filter), mean over seeds; NaN where summaries lack
            it. Every agent asks for the same budget, but what it keeps can differ.
        episode_seconds: Wall time of one episode without pretraining its base student
            (pretrained once per seed and shared by every agent), mean over the seeds whose
            summaries record it; NaN where none does.
    """

    setting: Setting
    agent: str
    privileged: bool
    gain: Interval
    final: Interval
    score: NormalizedScore | None
    efficiency: Efficiency | None
    oracle_gap: float
    paired_gap: Interval | None = None
    data_trained: float = math.nan
    episode_seconds: float = math.nan

    @property
    def role(self) -> str:
        return {NO_STATE: "reference 0", ORACLE: "reference 1"}.get(self.agent, "")


@dataclass
class Board:
    """All rows, settings in suite order, agents in suite order within a setting."""

    rows: list[BoardRow] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: (agent, setting, the earlier setting it repeats): the agent played the very same
    #: episodes (initial and final test accuracy on every seed) in both settings.
    repeats: list[tuple[str, Setting, Setting]] = field(default_factory=list)

    def _counted_once(self) -> set[tuple[str, Setting]]:
        """(agent, setting) rows left out of the means: the agent and both references
        repeat an earlier setting, so its score is that setting's score again."""
        repeated: dict[Setting, dict[str, Setting]] = defaultdict(dict)
        for agent, setting, earlier in self.repeats:
            repeated[setting][agent] = earlier
        out = set()
        for setting, by_agent in repeated.items():
            for agent, earlier in by_agent.items():
                if all(by_agent.get(ref) == earlier for ref in (NO_STATE, ORACLE)):
                    out.add((agent, setting))
        return out

    def settings(self) -> list[Setting]:
        return list(dict.fromkeys(row.setting for row in self.rows))

    def episode_seconds(self) -> dict[Setting, float]:
        """Per setting, the episode time of all its agents and seeds added up (the time one
        worker would take; NaN where no summary records it)."""
        totals: dict[Setting, float] = {}
        for row in self.rows:
            spent = row.episode_seconds * row.gain.n
            totals[row.setting] = totals.get(row.setting, 0.0) + spent
        return totals

    def overall(self) -> list[dict[str, Any]]:
        """Per non-reference agent: mean normalized score over the settings that have one,
        a setting that repeats another for the agent and its references counted once."""
        by_agent: dict[str, list[float]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        privileged: dict[str, bool] = {}
        once = self._counted_once()
        for row in self.rows:
            if row.score is None or (row.agent, row.setting) in once:
                continue
            counts[row.agent] += 1
            privileged[row.agent] = row.privileged
            if row.score.score is not None:
                by_agent[row.agent].append(row.score.score.mean)
        out = []
        for agent in counts:
            scores = by_agent.get(agent, [])
            out.append(
                {
                    "agent": agent,
                    "privileged": privileged[agent],
                    "settings_scored": len(scores),
                    "settings": counts[agent],
                    "mean_score": statistics.fmean(scores) if scores else math.nan,
                }
            )
        return sorted(out, key=lambda r: -r["mean_score"] if r["settings_scored"] else math.inf)


def is_degraded(summary: Mapping[str, Any]) -> bool:
    """Whether a run went on with a degraded teacher (``--allow-degraded``): its numbers
    measure the endpoint's failures and its fallback rules, not the teacher."""
    return bool((summary.get("teacher_health") or {}).get("degraded"))


def build_board(results: Iterable[tuple[Setting, str, int, Mapping[str, Any]]]) -> Board:
    """A board from (setting, agent, seed, summary) tuples of finished runs.

    Runs with a degraded teacher (:func:`is_degraded`) are refused: left off the board and
    listed in ``Board.failed``.
    """
    runs: dict[Setting, dict[str, dict[int, Mapping[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    refused: list[str] = []
    for setting, agent, seed, summary in results:
        if is_degraded(summary):
            refused.append(
                f"{setting_label(setting)} {agent} seed {seed}: refused, its teacher was "
                "degraded (ran with --allow-degraded)"
            )
            continue
        runs[setting][agent][seed] = summary
    board = Board()
    for setting, agents in runs.items():
        gains = {
            agent: {seed: _gain(s) for seed, s in by_seed.items()}
            for agent, by_seed in agents.items()
        }
        no_state, oracle = gains.get(NO_STATE, {}), gains.get(ORACLE, {})
        paired_gap = reference_gap(no_state, oracle)  # what normalized_score tests too
        gap = paired_gap.mean if paired_gap is not None else math.nan
        for agent, by_seed in agents.items():
            reference = agent in (NO_STATE, ORACLE)
            efficiency = None
            if agent != NO_STATE and agents.get(NO_STATE):
                paired = sorted(set(by_seed) & set(agents[NO_STATE]))
                efficiency = efficiency_over_seeds(
                    [data_efficiency(by_seed[s], agents[NO_STATE][s]) for s in paired]
                )
            board.rows.append(
                BoardRow(
                    setting=setting,
                    agent=agent,
                    privileged=any(bool(s.get("privileged")) for s in by_seed.values()),
                    gain=t_interval(list(gains[agent].values())),
                    final=t_interval(
                        [float(s["final"]["test_accuracy"]) for s in by_seed.values()]
                    ),
                    score=None if reference else normalized_score(gains[agent], no_state, oracle),
                    efficiency=efficiency,
                    oracle_gap=gap,
                    paired_gap=paired_gap,
                    data_trained=_mean_data(by_seed.values()),
                    episode_seconds=_mean_seconds(by_seed.values()),
                )
            )
    board.repeats = _repeats(runs)
    board.failed.extend(refused)
    return board


def _repeats(
    runs: Mapping[Setting, Mapping[str, Mapping[int, Mapping[str, Any]]]],
) -> list[tuple[str, Setting, Setting]]:
    """Per agent, the settings (same domain, budget, iterations and student, another
    environment) in which it played exactly the episodes of an earlier one."""
    seen: dict[tuple[str, tuple[Any, ...]], Setting] = {}
    out = []
    for setting, agents in runs.items():
        domain, _env, budget, iterations, student = setting
        for agent, by_seed in agents.items():
            outcome = tuple(
                (seed, _accuracy(s, "initial"), _accuracy(s, "final"))
                for seed, s in sorted(by_seed.items())
            )
            key = (agent, (domain, budget, iterations, student, outcome))
            if key in seen:
                out.append((agent, setting, seen[key]))
            else:
                seen[key] = setting
    return out


def _accuracy(summary: Mapping[str, Any], when: str) -> float:
    return float(summary[when]["test_accuracy"])


def _gain(summary: Mapping[str, Any]) -> float:
    return float(summary["final"]["test_accuracy"]) - float(summary["initial"]["test_accuracy"])


def _mean_data(summaries: Iterable[Mapping[str, Any]]) -> float:
    counts = [float(s["total_training_data"]) for s in summaries if "total_training_data" in s]
    return statistics.fmean(counts) if counts else math.nan


def _mean_seconds(summaries: Iterable[Mapping[str, Any]]) -> float:
    seconds = [
        float(s["wall_seconds"]) - float(s.get("base_student_seconds") or 0.0)
        for s in summaries
        if "wall_seconds" in s
    ]
    return statistics.fmean(seconds) if seconds else math.nan


def setting_label(setting: Setting) -> str:
    domain, env, budget, iterations, student = setting
    return f"{domain} / {env} / {iterations}×{budget} / {student}"


def unseparated(board: Board) -> list[Setting]:
    """Settings whose oracle did not beat no-state: they cannot tell agents apart.

    Settings that lack a reference run have no gap at all and are not listed.
    """
    gaps = {row.setting: row.oracle_gap for row in board.rows}
    return [s for s, gap in gaps.items() if not math.isnan(gap) and gap <= 0]
