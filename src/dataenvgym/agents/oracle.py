"""The oracle teacher: a privileged upper reference for the built-in (procedural) domains.

It sees what no real teacher can: the student itself. Before each step it

1. scores the student on a *private* copy of the test distribution: fresh items drawn from
   the domain's own generators with the oracle's own seed, balanced per subskill like the
   test split, never a validation or test item (their prompts are used only to exclude
   them from this copy);
2. tries allocations on copies of the student, each trained by the environment's own
   trainer (same steps, seed and replay): uniform; allocations ∝ what each subskill gained
   under uniform over a floor; equal shares over the subskills that gained; what the
   built-in with-state and weakest-first policies would send; and then a search (the
   cross-entropy method on unit shares, :mod:`dataenvgym.agents.oracle_search`) around
   the best of these. With a ``horizon`` above 1 each copy is rolled on with the same
   allocation to the horizon's end (never past the episode's), and judged there;
3. submits the data of the candidate whose copy scores best on the private items. The data
   are drawn as the procedural engine draws them (the full count, none the oracle wrote
   before in this episode, and here none of its private items), and like every engine's
   they lose what the environment's contamination guard drops, without refill: a copy
   trains on the data the environment will keep, so the real step is exactly the chosen
   copy's first step and the oracle trains on no more data than an engine would. Every
   candidate is rounded to exactly the step's budget, so it spends the same budget as
   every other agent, and the environment takes over the chosen copy instead of training
   the same data a second time.

Why a look-ahead and not "largest headroom": on this project's arithmetic, sending data
where accuracy is lowest loses to uniform data (see docs/when-state-pays.md) because
out-of-reach subskills do not move. What a subskill *can gain* from data is the headroom
that counts, and only the student can tell it. Per-subskill gains alone are not enough
either: measured, an oracle that spent 80 % of a step ∝ gain² on carries and borrow chains
lifted them by 50 points while no-carry addition fell from 1.00 to 0.64 (the student learnt
to carry everywhere), and the next step undid it. So whole allocations are judged by the
private accuracy they reach.

What it costs: each candidate is one training step of a copy (``horizon`` steps with a
roll-out), and there are up to five fixed candidates plus ``search_population`` ×
``search_generations`` searched ones per step; the chosen copy's first step is the
environment's own (:class:`HandOverTrainer`).

The oracle is marked ``privileged`` in every run folder, summary and table.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dataenvgym.agents.allocation import largest_remainder
from dataenvgym.agents.base import Agent
from dataenvgym.agents.handover import HandOverTrainer, TrainedCopy
from dataenvgym.agents.oracle_config import OracleConfig as OracleConfig
from dataenvgym.agents.oracle_config import default_oracle_config as default_oracle_config
from dataenvgym.agents.oracle_draw import counts_to_action, draw_as_an_engine, private_items
from dataenvgym.agents.oracle_plans import EpisodeStart, PlannedEpisode, Scores, best_plan
from dataenvgym.agents.oracle_search import (
    elite_mean,
    oracle_allocation,
    sample_allocations,
    top_k_allocation,
)
from dataenvgym.agents.policies import STATE_POLICIES, WeakestFirstPolicy
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.envs.base import TeacherEnv
from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.protocols import Policy, ProceduralDomain, Student, Trainer
from dataenvgym.types import (
    Action,
    Observation,
    TaskInstance,
    TrainingDatum,
    TrainStats,
    subskill_key,
)


@dataclass
class Candidate:
    """One allocation the oracle tried on a copy of the student."""

    label: str
    counts: dict[str, int]
    # What the oracle maximises: private accuracy after training on its data (with a
    # horizon > 1, after rolling the same allocation on to the horizon's end).
    private_accuracy: float
    data: list[TrainingDatum] = field(default_factory=list, repr=False)  # what it submits
    kept: list[TrainingDatum] = field(default_factory=list, repr=False)  # what the env keeps
    scores: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)


@dataclass
class LookAhead:
    """What the oracle measured before one step (kept for reports and tests)."""

    iteration: int
    before: dict[str, tuple[float, float]]  # subskill -> (accuracy, partial), private items
    gains: dict[str, float]  # per subskill, after one uniform step on a copy
    candidates: list[Candidate]
    chosen: Candidate

    @property
    def allocation(self) -> dict[str, int]:
        return self.chosen.counts


class OraclePolicy:
    """Chooses each step's data by trying allocations on copies of the student.

    1. Uniform data is trained into a copy with the environment's own trainer, seed and
       replay; its per-subskill gains on the private items say what each subskill can
       gain now (out-of-reach and mastered subskills gain nothing).
    2. For each floor in ``config.floors``, an allocation ∝ those gains over that floor is
       trained into another copy, and so are one with equal shares over the subskills that
       gained and the built-in with-state policy's allocation.
    3. The candidate with the best private accuracy wins, and its very data are submitted,
       so the look-ahead is the step itself (up to data the environment drops). Because
       subskills interfere (feeding only carries teaches the student to carry where it
       must not), allocations are judged by the whole private accuracy they reach, not by
       per-subskill gains alone; uniform, with-state and weakest-first are always
       candidates, so no step is worse than any of them on the private items (the episode
       as a whole is not guaranteed: the look-ahead is one step deep).

    Needs :meth:`attach_env` after ``env.reset``.
    """

    def __init__(self, domain: ProceduralDomain, config: OracleConfig | None = None) -> None:
        self.domain = domain
        self.config = config or default_oracle_config(domain)
        self.catalogue = domain.skills()
        self.seed = 0
        self.env: TeacherEnv[Any, Any] | None = None
        self.private: list[TaskInstance] = []
        self.evaluation: set[str] = set()  # prompts the contamination guard drops
        self.private_prompts: set[str] = set()  # never training data: the copy is scored on them
        self.drawn: set[str] = set()  # every prompt submitted in this episode, kept or dropped
        self.log: list[LookAhead] = []
        self.guide: Policy | None = None  # the with-state policy of the env, made on first use
        self.weakest: Policy | None = None  # the weakest-first policy, made on first use
        self.guide_engine = ProceduralEngine(domain)
        self.trainer: Trainer | None = None  # the environment's own, unwrapped
        self.trained_copy: TrainedCopy | None = None  # the chosen copy, until the step
        self.committed: PlannedEpisode | None = None  # with ``commit``: the episode it plays

    @property
    def units(self) -> list[str]:
        return [subskill_key(s.name, sub) for s in self.catalogue for sub in s.subskills]

    def reset(self, seed: int | None = None) -> None:
        self.seed = seed or 0
        self.log = []
        self.guide = None
        self.drawn = set()
        self.committed = None

    # ------------------------------------------------------------------ privileged access

    def attach_env(self, env: TeacherEnv[Any, Any]) -> None:
        """Give the oracle the environment (its student and trainer) after ``env.reset``."""
        self.env = env
        self.trainer = (
            env.trainer.inner if isinstance(env.trainer, HandOverTrainer) else env.trainer
        )
        env.trainer = HandOverTrainer(self.trainer, self)
        self.evaluation = {i.prompt for i in [*env.validation, *env.test]}
        self.private = private_items(
            self.domain, self.units, self.config.private_per_subskill, self.seed, self.evaluation
        )
        self.private_prompts = {i.prompt for i in self.private}

    def __getstate__(self) -> dict[str, Any]:
        # Checkpoints pickle the agent; the environment is re-attached on resume.
        state = dict(self.__dict__)
        state["env"], state["private"] = None, []
        state["evaluation"], state["private_prompts"] = set(), set()
        state["trainer"], state["trained_copy"] = None, None
        # A resumed committed oracle plans the rest of its episode again, from where it is.
        state["committed"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A checkpoint of revision 1 has no record of what it drew: start that record empty.
        self.__dict__.update(state)
        self.__dict__.setdefault("drawn", set())
        self.__dict__.setdefault("weakest", None)  # revision 2 had no weakest-first candidate
        self.__dict__.setdefault("evaluation", set())
        self.__dict__.setdefault("private_prompts", set())
        self.__dict__.setdefault("committed", None)
        self.__dict__.pop("excluded", None)

    # ------------------------------------------------------------------ planning

    def choose(self, observation: Observation) -> Candidate:
        """This step's allocation and data, from a look-ahead over fixed and searched
        candidates."""
        if self.config.commit:
            return self._committed_step(observation)
        env = self._env()
        budget = observation.budget_per_iteration
        before = self._private_scores(env.student)
        even = largest_remainder(dict.fromkeys(self.units, 1.0), budget)
        self.trained_copy = None
        uniform, after = self._try("uniform", even, tag=0)
        gains = {
            key: (after[key][0] - before[key][0])
            + self.config.partial_weight * (after[key][1] - before[key][1])
            for key in self.units
        }
        options = [
            (f"floor {f:g}", oracle_allocation(gains, budget, f)) for f in self.config.floors
        ]
        if self.config.learnable_floor is not None:
            equal = oracle_allocation(gains, budget, self.config.learnable_floor, equal=True)
            options.append(("learnable", equal))
        for k in self.config.concentrate:
            top = top_k_allocation(gains, budget, k, self.config.concentrate_floor)
            options.append((f"top {k}", top))
        if self.config.with_state:
            options.append(("with-state", self._with_state_counts(observation)))
        if self.config.weakest_first:
            options.append(("weakest-first", self._counts_of(self._weakest(), observation)))
        candidates = [uniform]
        for tag, (label, counts) in enumerate(options, start=1):
            if all(counts != c.counts for c in candidates):
                candidates.append(self._try(label, counts, tag=tag)[0])
        self._search(candidates, budget, first_tag=len(options) + 1)
        chosen = max(candidates, key=lambda c: c.private_accuracy)  # first on ties: uniform
        self.log.append(LookAhead(env.iteration, before, gains, candidates, chosen))
        return chosen

    def _committed_step(self, observation: Observation) -> Candidate:
        """This step of the whole episode the oracle committed to (planned on first use)."""
        env = self._env()
        plan = self.committed
        # The step about to be played trains iteration env.iteration + 1.
        index = env.iteration + 1 - plan.first_iteration if plan is not None else -1
        if plan is None or not 0 <= index < len(plan.steps):
            plan = self.committed = self._commit(observation.budget_per_iteration)
            index = 0
        step = plan.steps[index]
        chosen = Candidate(plan.label, step.counts, plan.private_accuracy, step.data, step.kept)
        # The copy goes to the environment's step and is no longer the plan's to hold.
        student, step.student = step.student, None
        if student is not None:
            self.trained_copy = TrainedCopy(
                student,
                step.stats,
                [d.prompt for d in step.kept],
                plan.private_accuracy,
                env.iteration + 1,
            )
        self.log.append(LookAhead(env.iteration, {}, {}, [chosen], chosen))
        return chosen

    def _commit(self, budget: int) -> PlannedEpisode:
        """Play uniform data and each reach plan to the episode's end; the best one."""
        env = self._env()
        start = EpisodeStart(
            student=env.student,
            accumulated=env.accumulated,
            taken=self._own_prompts(),
            budget=budget,
            first_iteration=env.iteration + 1,
            last_iteration=env.config.max_iterations,
            salt=f"oracle-plan:{self.seed}:{env.iteration}",
        )
        return best_plan(self, self.units, self._private_scores(env.student), start, self.config)

    def _own_prompts(self) -> set[str]:
        """Prompts no new datum of the oracle may have: drawn before in this episode, its
        private items', the environment's data so far."""
        return self.drawn | self.private_prompts | {d.prompt for d in self._env().accumulated}

    # Simulator (oracle_plans): the oracle's draws, copies, trainer and private items, which
    # the step-by-step look-ahead uses too.

    def draw(
        self, counts: dict[str, int], taken: set[str], *, salt: str
    ) -> tuple[list[TrainingDatum], list[TrainingDatum]]:
        return draw_as_an_engine(self.domain, counts, taken, self.evaluation, salt=salt)

    def copy(self, student: Student) -> Student:
        return _copy_student(student)

    def train(
        self,
        student: Student,
        new_data: list[TrainingDatum],
        accumulated: list[TrainingDatum],
        iteration: int,
    ) -> TrainStats:
        env = self._env()
        return self._trainer().train(
            student, new_data, accumulated, base=env.base, iteration=iteration, seed=env.seed_value
        )

    def score(self, student: Student) -> Scores:
        return self._private_scores(student)

    def _search(self, candidates: list[Candidate], budget: int, *, first_tag: int) -> None:
        """Add the cross-entropy method's samples around the elite to ``candidates``
        (their data are drawn with tags from ``first_tag`` on)."""
        config = self.config
        tag = first_tag
        rng = random.Random(f"oracle-search:{self.seed}:{self._env().iteration}")
        for generation in range(config.search_generations if config.search_population else 0):
            ranked = sorted(candidates, key=lambda c: -c.private_accuracy)
            centre = elite_mean([c.counts for c in ranked[: max(1, config.elite)]], self.units)
            drawn = sample_allocations(
                centre,
                self.units,
                budget,
                population=config.search_population,
                sigma=config.search_sigma / 2**generation,
                rng=rng,
                exclude=[c.counts for c in candidates],
            )
            for index, counts in enumerate(drawn, start=1):
                label = f"search {generation + 1}.{index}"
                candidates.append(self._try(label, counts, tag=tag)[0])
                tag += 1

    def _with_state_counts(self, observation: Observation) -> dict[str, int]:
        """Per-subskill counts of the built-in with-state policy's plan for ``observation``
        (it is fed every observation, so its history is the one it would have had)."""
        if self.guide is None:
            self.guide = STATE_POLICIES[self._env().env_name](
                self.catalogue, self.config.with_state_allocation
            )
            self.guide.reset(self.seed)
        return self._counts_of(self.guide, observation)

    def _weakest(self) -> Policy:
        # Stateless (it reads the latest accuracies only), so one serves every step.
        if self.weakest is None:
            self.weakest = WeakestFirstPolicy(self.catalogue)
        return self.weakest

    def _counts_of(self, policy: Policy, observation: Observation) -> dict[str, int]:
        """Per-subskill counts of ``policy``'s plan for ``observation``."""
        plan = policy.plan(observation)
        targets = self.guide_engine.planned_counts(plan, observation)
        counts = dict.fromkeys(self.units, 0)
        for (skill, subskill), count in targets.items():
            key = subskill_key(skill, subskill)
            if key in counts:
                counts[key] += count
        return counts

    def plan(self, observation: Observation) -> Action:
        chosen = self.choose(observation)
        self.drawn.update(d.prompt for d in chosen.data)
        return counts_to_action(chosen.counts, observation, notes=self.notes())

    def notes(self) -> str:
        """What the last look-ahead measured and chose (kept in the plan's notes)."""
        last = self.log[-1]
        if self.config.commit and self.committed is not None:
            plan = self.committed
            return (
                f"oracle (privileged) plays the whole episode it planned: {plan.label} "
                f"{ {k: round(w, 3) for k, w in plan.weights.items()} }, private accuracy "
                f"{plan.private_accuracy:.4f} at its end; this step {last.chosen.counts}"
            )
        gains = {k: round(v, 3) for k, v in last.gains.items()}
        tried = {c.label: round(c.private_accuracy, 4) for c in last.candidates}
        lost = len(last.chosen.data) - len(last.chosen.kept)
        return (
            f"oracle (privileged) look-ahead: gains under uniform {gains}; private accuracy "
            f"per candidate {tried}; chose {last.chosen.label}: {last.chosen.counts} "
            f"({lost} of its data copy evaluation prompts: the environment drops them)"
        )

    def _try(
        self, label: str, counts: dict[str, int], *, tag: int
    ) -> tuple[Candidate, dict[str, tuple[float, float]]]:
        """Write the data of ``counts``, train it into a copy, score the copy privately
        (after ``config.horizon`` steps of this allocation; the first step's scores are
        returned too).

        The best copy so far, as trained by the first step, is kept (:attr:`trained_copy`)
        for the environment's step.
        """
        env = self._env()
        own = self._own_prompts()
        data, kept = self.draw(counts, own, salt=f"oracle-data:{self.seed}:{env.iteration}:{tag}")
        # The copy trains on what the environment will keep of ``data``, in its order, so
        # that the real step is this very training.
        probe = self.copy(env.student)
        stats = self.train(probe, kept, [*env.accumulated, *kept], env.iteration + 1)
        scores = self.score(probe)
        accuracy = (
            self._rolled_out(probe, counts, kept, own, tag)
            if self._horizon() > 1
            else (sum(a for a, _ in scores.values()) / len(self.units))
        )
        # Strictly better only: on ties the earlier candidate wins, as in ``choose``.
        if self.trained_copy is None or accuracy > self.trained_copy.private_accuracy:
            prompts = [d.prompt for d in kept]
            self.trained_copy = TrainedCopy(probe, stats, prompts, accuracy, env.iteration + 1)
        return Candidate(label, counts, accuracy, data, kept, scores), scores

    def _horizon(self) -> int:
        """Steps a candidate is judged over: the configured horizon, within the episode."""
        env = self._env()
        return max(1, min(self.config.horizon, env.config.max_iterations - env.iteration))

    def _rolled_out(
        self,
        stepped: Student,
        counts: dict[str, int],
        kept: list[TrainingDatum],
        own: set[str],
        tag: int,
    ) -> float:
        """Private accuracy after rolling a copy of ``stepped`` on with ``counts`` for the
        rest of the horizon, on fresh data nobody submits (``stepped`` is left as it is)."""
        env = self._env()
        student = self.copy(stepped)
        accumulated = [*env.accumulated, *kept]
        taken = own | {d.prompt for d in kept}
        for ahead in range(1, self._horizon()):
            _, more = self.draw(
                counts, taken, salt=f"oracle-rollout:{self.seed}:{env.iteration}:{tag}:{ahead}"
            )
            taken |= {d.prompt for d in more}
            accumulated += more
            self.train(student, more, accumulated, env.iteration + 1 + ahead)
        scores = self.score(student)
        return sum(a for a, _ in scores.values()) / len(self.units)

    def _trainer(self) -> Trainer:
        self._env()
        assert self.trainer is not None  # set by attach_env
        return self.trainer

    def take_trained_copy(
        self, new_data: Sequence[TrainingDatum], iteration: int
    ) -> TrainedCopy | None:
        """The chosen copy if the environment is about to train exactly its data (once)."""
        trained, self.trained_copy = self.trained_copy, None
        if (
            trained is None
            or trained.iteration != iteration
            or trained.prompts != [d.prompt for d in new_data]
        ):
            return None
        return trained

    def _env(self) -> TeacherEnv[Any, Any]:
        if self.env is None:
            raise DataEnvGymError(
                "the oracle reads the environment: call agent.attach_env(env.unwrapped) after "
                "env.reset() (run_episode does this)"
            )
        return self.env

    def _private_scores(self, student: Student) -> dict[str, tuple[float, float]]:
        report = self._env().evaluator.evaluate(student, self.private).report
        return {
            key: (report.per_subskill[key].accuracy, report.per_subskill[key].partial)
            if key in report.per_subskill
            else (0.0, 0.0)
            for key in self.units
        }


def _copy_student(student: Student) -> Student:
    try:
        probe = copy.deepcopy(student)
    except Exception as err:  # a student holding a process, a lock, a GPU handle ...
        raise DataEnvGymError(
            f"the oracle trains a copy of the student and could not copy a "
            f"{type(student).__name__}: {err}"
        ) from err
    if hasattr(probe, "progress"):
        probe.progress = None  # the look-ahead must not drive the CLI's progress bar
    return probe


class OracleEngine:
    """Hands over the data of the candidate the look-ahead chose (already written and
    filtered by :class:`OraclePolicy` from the domain's generators)."""

    def __init__(self, policy: OraclePolicy) -> None:
        self.policy = policy

    def generate(self, plan: Action, observation: Observation, *, seed: int) -> list[TrainingDatum]:
        log = self.policy.log
        if not log or log[-1].iteration != observation.iteration:
            raise DataEnvGymError("the oracle engine writes only what OraclePolicy.plan just chose")
        return list(log[-1].chosen.data)


#: The oracle's :attr:`Agent.revision`. 2: its data are drawn as an engine draws them and
#: lose what the contamination guard drops (revision 1 left evaluation prompts out before
#: writing and refilled, training on up to 13 % more data than the other agents). The search
#: and the roll-out (``search_population``, ``horizon``) are off by default, so the default
#: oracle (the one boards and ``run --agent oracle`` play) plays revision 2's episodes. 3:
#: what the built-in weakest-first policy would send is one more candidate
#: (``OracleConfig.weakest_first``). 4: 100 private items per subskill instead of 300
#: (``OracleConfig.private_per_subskill``): a third of the scoring, and fewer of its data
#: lost to the contamination guard in units with small prompt spaces. 5: in a domain that asks
#: for it (``oracle_commit``: built-in arithmetic), the default oracle plays whole-episode plans
#: (``OracleConfig.commit``) instead of looking one step ahead.
ORACLE_REVISION = 5


@dataclass
class OracleAgent(Agent):
    """The privileged upper-bound agent: :class:`OraclePolicy` and :class:`OracleEngine`.

    Its action is the chosen candidate's allocation in the environment's own action shape
    (in Skill-List too, where a plan names counts per skill only) with the candidate's data.
    """

    name: str = "oracle"
    privileged: bool = True
    revision: int | None = ORACLE_REVISION

    @property
    def oracle(self) -> OraclePolicy:
        if not isinstance(self.policy, OraclePolicy):
            raise TypeError("OracleAgent needs an OraclePolicy")
        return self.policy

    def attach_env(self, env: TeacherEnv[Any, Any]) -> None:
        """See :meth:`OraclePolicy.attach_env`."""
        self.oracle.attach_env(env)


def make_oracle(domain: object, config: OracleConfig | None = None) -> OracleAgent:
    """The oracle for a procedural domain (``config`` None: :func:`default_oracle_config`).

    Raises:
        ConfigError: the domain has no generators (no private test copy can be drawn).
    """
    if not isinstance(domain, ProceduralDomain):
        name = getattr(domain, "name", type(domain).__name__)
        raise ConfigError(
            f"the oracle draws a private test copy from a domain's generators; {name!r} has none"
        )
    policy = OraclePolicy(domain, config or default_oracle_config(domain))
    return OracleAgent(policy=policy, engine=OracleEngine(policy))
