"""The oracle's knobs, and which oracle a domain is measured against by default.

Kept apart from :mod:`dataenvgym.agents.oracle` (the policy) so that the configuration, its
checks and the per-domain default read on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataenvgym.agents.allocation import AllocationConfig
from dataenvgym.errors import ConfigError


@dataclass(frozen=True)
class OracleConfig:
    """Knobs of the oracle.

    Attributes:
        private_per_subskill: Private items per subskill (the oracle's own test copy),
            taken out of the prompts its data may use. 100 costs a third of the scoring of
            300; two copies' accuracies on the same 2,000 items (code) differ with a
            standard error of about a point where they disagree on a fifth of the items.
        floors: One candidate allocation per floor (the share spread uniformly), besides
            uniform itself; each is tried by training a copy of the student.
        learnable_floor: One more candidate: this floor, and the rest in equal shares over
            the subskills that gained anything (slow learners are not starved by fast ones);
            ``None`` leaves it out.
        concentrate: One more candidate per entry ``k``: ``concentrate_floor`` spread
            uniformly and the rest in equal shares over the ``k`` subskills that gained
            most under uniform data; empty (the default) tries none.
        concentrate_floor: The uniform share of each concentrated candidate.
        with_state: One more candidate: what the built-in with-state policy would send,
            so that no step of the oracle is worse (on its private items) than that.
        weakest_first: One more candidate: what the built-in weakest-first policy would
            send. Where every unit is learnable it can beat with-state by several points
            (code and tool use), and an upper reference must not lose to a built-in agent.
        with_state_allocation: The allocation knobs of that candidate, frozen at the rule
            of oracle revision 2 (no variance term, no fair trial): a yardstick must not
            move with the agent it measures, so improving the with-state agent reruns only
            its own episodes, not every oracle episode.
        partial_weight: Weight of the partial-credit gain next to the exact-match gain; a
            tie-breaker between subskills whose exact accuracy has not moved yet.
        search_population: Allocations sampled per generation of the search around the best
            ones tried (the cross-entropy method on unit shares,
            :mod:`dataenvgym.agents.oracle_search`); 0 tries the fixed candidates only.
        search_generations: Generations of that search per step.
        search_sigma: Spread of the first generation's logits; each later one halves it.
        elite: How many of the best allocations tried so far centre the next generation.
        horizon: Steps each candidate is judged over: 1 judges the private accuracy right
            after the step; ``h`` > 1 rolls the trained copy ``h - 1`` steps further (never
            past the episode's end) on fresh data of the same allocation and judges the
            accuracy it ends at, so an allocation that pays later is not lost to one that
            pays now. Only the first step's data is ever submitted.
        commit: Play whole episodes instead of looking one step ahead: at its first step
            the oracle plays uniform data and each reach plan to the episode's end on
            private copies, and then plays the plan that ended best, step for step
            (:mod:`dataenvgym.agents.oracle_plans`); the fields above, but
            ``private_per_subskill`` and ``partial_weight``, are then unused.
        reach_gain: With ``commit``: the gain over a uniform episode (exact match plus
            ``partial_weight`` × partial credit, on the private items) from which a subskill
            is in reach.
        hold_above: With ``commit``: the accuracy from which a subskill that is not in
            reach is still fed (``hold_weights``) so that it is not forgotten.
        hold_weights: With ``commit``: one reach plan per entry, the share of each held
            subskill against 1 for each subskill in reach.
    """

    private_per_subskill: int = 100
    floors: tuple[float, ...] = (0.5,)
    learnable_floor: float | None = 0.3
    concentrate: tuple[int, ...] = ()
    concentrate_floor: float = 0.1
    with_state: bool = True
    weakest_first: bool = True
    with_state_allocation: AllocationConfig = field(
        default_factory=lambda: AllocationConfig(variance_weight=0.0)
    )
    partial_weight: float = 0.25
    search_population: int = 0
    search_generations: int = 1
    search_sigma: float = 0.75
    elite: int = 2
    horizon: int = 1
    commit: bool = False
    reach_gain: float = 0.05
    hold_above: float = 0.5
    hold_weights: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        for name in ("search_generations", "elite", "horizon", "private_per_subskill"):
            if getattr(self, name) < 1:
                raise ConfigError(f"OracleConfig.{name} must be at least 1")
        if any(k < 1 for k in self.concentrate):
            raise ConfigError("OracleConfig.concentrate entries must be at least 1")
        if not 0.0 <= self.concentrate_floor <= 1.0:
            raise ConfigError("OracleConfig.concentrate_floor must be in [0, 1]")
        if self.search_population < 0 or self.search_sigma < 0:
            raise ConfigError("OracleConfig.search_population and search_sigma must be >= 0")
        if any(w < 0 for w in self.hold_weights):
            raise ConfigError("OracleConfig.hold_weights must be >= 0")


def default_oracle_config(domain: object) -> OracleConfig:
    """The oracle a domain is measured against: whole-episode plans (``commit``) where the
    domain says they are its stronger upper reference (``oracle_commit = True``, as built-in
    arithmetic does), else the one-step look-ahead."""
    return OracleConfig(commit=bool(getattr(domain, "oracle_commit", False)))
