"""Whole-episode plans for the oracle: play every candidate plan to the episode's end on
private copies of the student, then play the best one for real.

The step-by-step look-ahead of :class:`~dataenvgym.agents.oracle.OraclePolicy` judges each
step by where it leaves the student one step later, and one-step choices do not add up over
an episode. On built-in arithmetic a plan fixed in advance (no data for the subskills that
uniform data do not move, even shares over the rest, half a share for what the student
already knows) ends well above where the look-ahead ends (docs/training.md). What that plan
needs to know is privileged: which subskills *can* move within this episode, which only a
simulation of the episode tells. So in ``commit`` mode the oracle

1. plays uniform data to the episode's end on a copy of the student, scored on its private
   items: a subskill that gained (exact match plus a quarter of the partial credit) at least
   ``reach_gain`` over the whole episode is *in reach*;
2. builds one *reach plan* per entry of ``hold_weights``: a share 1 for each subskill in
   reach, that share for each subskill the student already gets right at least
   ``hold_above`` of the time (it is fed so as not to be forgotten), 0 for the rest;
3. plays each reach plan to the end on another copy, and keeps the plan whose copy ends
   best on the private items (uniform on ties).

Its episode is then that copy's episode, step for step: each step submits the data the copy
trained on, and the environment takes over the copy's weights (the same trainer, data,
replay and seed would train the same weights). Every step spends the step's whole budget,
like every agent. The cost is one fit and one private scoring per step and plan: with one
reach plan, two episodes' training, against five candidates a step for the look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dataenvgym.agents.allocation import largest_remainder
from dataenvgym.protocols import Student
from dataenvgym.types import TrainingDatum, TrainStats

if TYPE_CHECKING:
    from dataenvgym.agents.oracle_config import OracleConfig

Scores = dict[str, tuple[float, float]]


class Simulator(Protocol):
    """What a roll-out needs of the oracle: its draws, its copies, its trainer, its items."""

    def draw(
        self, counts: dict[str, int], taken: set[str], *, salt: str
    ) -> tuple[list[TrainingDatum], list[TrainingDatum]]:
        """The data an engine would submit for ``counts`` and those the environment keeps."""
        ...

    def copy(self, student: Student) -> Student:
        """A private copy of ``student``."""
        ...

    def train(
        self,
        student: Student,
        new_data: list[TrainingDatum],
        accumulated: list[TrainingDatum],
        iteration: int,
    ) -> TrainStats:
        """Train ``student`` in place as the environment's step ``iteration`` would."""
        ...

    def score(self, student: Student) -> Scores:
        """Per subskill (accuracy, partial credit) on the private items."""
        ...


@dataclass
class PlannedStep:
    """One step of a rolled-out plan: what was submitted, kept, and the copy it trained."""

    counts: dict[str, int]
    data: list[TrainingDatum] = field(repr=False)
    kept: list[TrainingDatum] = field(repr=False)
    student: Student | None = field(repr=False)  # None once handed to the environment
    stats: TrainStats = field(repr=False)


@dataclass
class PlannedEpisode:
    """A plan played to the episode's end on private copies."""

    label: str
    weights: dict[str, float]
    first_iteration: int  # the environment iteration its first step is
    steps: list[PlannedStep]
    scores: Scores  # private, at the end

    @property
    def private_accuracy(self) -> float:
        return sum(a for a, _ in self.scores.values()) / max(len(self.scores), 1)


@dataclass(frozen=True)
class EpisodeStart:
    """Where the episode stands when the oracle plans the rest of it.

    Attributes:
        student: The environment's student; copied, never trained.
        accumulated: The environment's data so far.
        taken: Prompts no datum of a plan may have (drawn before, private, accumulated).
        budget: Data per step.
        first_iteration: The environment iteration of a plan's first step.
        last_iteration: The episode's last iteration.
        salt: Seeds the plans' draws.
    """

    student: Student
    accumulated: Sequence[TrainingDatum]
    taken: set[str]
    budget: int
    first_iteration: int
    last_iteration: int
    salt: str


def roll_plan(
    sim: Simulator, label: str, weights: Mapping[str, float], start: EpisodeStart
) -> PlannedEpisode:
    """Play ``weights`` (the same shares every step) from ``start`` to the episode's end.

    Args:
        sim: The oracle's draws, copies, trainer and private items.
        label: The plan's name, in notes and salts.
        weights: Per-subskill shares; each step's counts are the budget split over them.
        start: Where the episode stands.
    """
    counts = largest_remainder(dict(weights), start.budget)
    copy = sim.copy(start.student)
    so_far = list(start.accumulated)
    used = set(start.taken)
    steps: list[PlannedStep] = []
    for iteration in range(start.first_iteration, start.last_iteration + 1):
        data, kept = sim.draw(counts, used, salt=f"{start.salt}:{label}:{iteration}")
        used |= {d.prompt for d in data}
        so_far += kept
        stats = sim.train(copy, kept, so_far, iteration)
        steps.append(PlannedStep(counts, data, kept, sim.copy(copy), stats))
    return PlannedEpisode(label, dict(weights), start.first_iteration, steps, sim.score(copy))


def reach_plan(
    before: Scores,
    after: Scores,
    *,
    partial_weight: float,
    reach_gain: float,
    hold_above: float,
    hold_weight: float,
) -> dict[str, float] | None:
    """Shares from a uniform episode: 1 where a subskill gained at least ``reach_gain``,
    ``hold_weight`` where the student already got it right at least ``hold_above`` of the
    time (and it did not gain), 0 elsewhere; ``None`` when that is no plan (nothing in reach)
    or is uniform itself (everything in reach)."""
    weights: dict[str, float] = {}
    for key, (accuracy, partial) in before.items():
        gain = (after[key][0] - accuracy) + partial_weight * (after[key][1] - partial)
        if gain >= reach_gain:
            weights[key] = 1.0
        elif accuracy >= hold_above:
            weights[key] = hold_weight
        else:
            weights[key] = 0.0
    if not any(w == 1.0 for w in weights.values()) or all(w == 1.0 for w in weights.values()):
        return None
    return weights


def best_plan(
    sim: Simulator,
    units: Sequence[str],
    before: Scores,
    start: EpisodeStart,
    config: OracleConfig,
) -> PlannedEpisode:
    """Play uniform data and each reach plan (one per ``config.hold_weights``) from ``start``
    to the episode's end; the plan whose copy ends best on the private items (uniform on
    ties). ``before``: the private scores at ``start``."""
    uniform = roll_plan(sim, "uniform", dict.fromkeys(units, 1.0), start)
    plans = [uniform]
    for hold in config.hold_weights:
        weights = reach_plan(
            before,
            uniform.scores,
            partial_weight=config.partial_weight,
            reach_gain=config.reach_gain,
            hold_above=config.hold_above,
            hold_weight=hold,
        )
        if weights is not None and all(weights != p.weights for p in plans):
            plans.append(roll_plan(sim, f"reach (hold {hold:g})", weights, start))
    return max(plans, key=lambda p: p.private_accuracy)  # first on ties: uniform
