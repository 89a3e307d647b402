"""The cross-entropy method over a parameter vector, checkpointed after every generation.

Each generation samples a population from a diagonal Gaussian, scores every candidate and
the Gaussian's mean itself with one call of the objective (so that an objective made of
episodes plays every candidate on the same seeds: common random numbers), and refits the
Gaussian to the best candidates. The state after every generation goes to a JSON file;
training again with the same file continues from it, and the result is the same as an
uninterrupted run's, because each generation's samples are drawn from a generator seeded by
(seed, generation) alone.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.errors import ConfigError

#: ``objective(candidates, generation) -> returns``, one return per candidate, higher better.
Objective = Callable[[list[list[float]], int], list[float]]


class CEMConfig(BaseModel):
    """Knobs of :func:`train_cem`.

    Attributes:
        generations: Generations to reach (a resumed run trains up to this many in all).
        population: Candidates sampled per generation.
        elite: Best candidates the Gaussian is refitted to.
        init_std: Standard deviation of the first generation, every coordinate.
        min_std: Least standard deviation after a refit, so the search never freezes on
            returns that are noisy.
        smoothing: Weight of the old mean and std in each refit (0: the elite alone).
        seed: Seeds the sampling.
    """

    model_config = ConfigDict(extra="forbid")

    generations: int = Field(default=8, ge=1)
    population: int = Field(default=8, ge=2)
    elite: int = Field(default=3, ge=1)
    init_std: float = Field(default=2.0, gt=0)
    min_std: float = Field(default=0.3, ge=0)
    smoothing: float = Field(default=0.3, ge=0, lt=1)
    seed: int = 0


class Generation(BaseModel):
    """What one generation tried and got.

    Attributes:
        generation: Its index, from 0.
        mean: The Gaussian's mean it sampled around (scored as ``mean_return``).
        std: The Gaussian's standard deviation.
        candidates: The sampled parameter vectors.
        returns: Each candidate's return.
        mean_return: The return of ``mean`` itself.
        population_return: The mean of ``returns``.
        seconds: Wall time of the generation.
        info: Whatever the objective reports of the generation (settings, seeds, baselines).
    """

    generation: int
    mean: list[float]
    std: list[float]
    candidates: list[list[float]]
    returns: list[float]
    mean_return: float
    population_return: float
    seconds: float
    info: dict[str, Any] = Field(default_factory=dict)


class CEMState(BaseModel):
    """The checkpoint: the Gaussian after ``generation`` generations, and their history.

    Attributes:
        names: The coordinates' names.
        generation: Generations done.
        mean: The current mean (the answer after the last generation).
        std: The current standard deviation.
        config: The :class:`CEMConfig` of the run.
        settings: What the objective is (episodes, settings, seeds); a resume must match.
        history: One :class:`Generation` per generation done.
    """

    names: list[str]
    generation: int = 0
    mean: list[float]
    std: list[float]
    config: CEMConfig
    settings: dict[str, Any] = Field(default_factory=dict)
    history: list[Generation] = Field(default_factory=list)

    @property
    def episodes(self) -> int:
        """Objective evaluations (candidates and means) spent so far."""
        return sum(len(g.candidates) + 1 for g in self.history)

    @property
    def seconds(self) -> float:
        """Wall time spent so far, over every generation."""
        return sum(g.seconds for g in self.history)


def load_state(path: Path) -> CEMState | None:
    """The checkpoint at ``path``; None if there is none."""
    if not path.exists():
        return None
    return CEMState.model_validate_json(path.read_text())


def save_state(state: CEMState, path: Path) -> None:
    """Write the checkpoint atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(state.model_dump(mode="json"), indent=1) + "\n")
    os.replace(staging, path)


def _refit(
    mean: np.ndarray, std: np.ndarray, elite: np.ndarray, config: CEMConfig
) -> tuple[np.ndarray, np.ndarray]:
    new_mean = elite.mean(axis=0)
    new_std = elite.std(axis=0) if len(elite) > 1 else std
    new_mean = config.smoothing * mean + (1 - config.smoothing) * new_mean
    new_std = config.smoothing * std + (1 - config.smoothing) * new_std
    return new_mean, np.maximum(new_std, config.min_std)


def train_cem(
    objective: Objective,
    *,
    names: Sequence[str],
    init_mean: Sequence[float],
    config: CEMConfig,
    checkpoint: Path | None = None,
    settings: dict[str, Any] | None = None,
    info: Callable[[int], dict[str, Any]] | None = None,
    on_generation: Callable[[Generation], None] | None = None,
) -> CEMState:
    """Run the cross-entropy method up to ``config.generations`` generations.

    Args:
        objective: Scores a list of parameter vectors (the population, then the mean).
        names: The coordinates' names, in order.
        init_mean: The first generation's mean.
        config: Population, elite, std and seed.
        checkpoint: A JSON file written after every generation; if it exists, training
            continues from it.
        settings: What the objective is; a checkpoint of other settings is refused.
        info: ``info(generation)``, recorded with the generation (e.g. its seeds).
        on_generation: Called after each generation (progress output).

    Raises:
        ConfigError: the checkpoint holds other names, settings or sampling knobs.
    """
    if config.elite > config.population:
        raise ConfigError(f"elite {config.elite} exceeds the population {config.population}")
    if len(init_mean) != len(names):
        raise ConfigError(f"{len(names)} names but an initial mean of {len(init_mean)}")
    settings = settings or {}
    state = load_state(checkpoint) if checkpoint is not None else None
    if state is None:
        state = CEMState(
            names=list(names),
            mean=[float(v) for v in init_mean],
            std=[config.init_std] * len(names),
            config=config,
            settings=settings,
        )
    else:
        # Everything but the number of generations must match, or the curve would mix runs.
        fixed = config.model_dump(exclude={"generations"})
        if (
            state.names != list(names)
            or state.settings != settings
            or state.config.model_dump(exclude={"generations"}) != fixed
        ):
            raise ConfigError(
                f"checkpoint {checkpoint} was trained with other settings; "
                "use another checkpoint path or the same settings"
            )
        state = state.model_copy(update={"config": config})
    while state.generation < config.generations:
        started = time.perf_counter()
        mean, std = np.asarray(state.mean), np.asarray(state.std)
        rng = np.random.default_rng([config.seed, state.generation])
        samples = mean + std * rng.standard_normal((config.population, len(mean)))
        candidates = [[float(v) for v in row] for row in samples]
        scored = objective([*candidates, [float(v) for v in mean]], state.generation)
        if len(scored) != config.population + 1 or not all(math.isfinite(r) for r in scored):
            raise ValueError(f"the objective returned {scored!r} for {config.population + 1}")
        returns, mean_return = scored[:-1], scored[-1]
        # Stable sort: ties keep the sampling order, so reruns pick the same elite.
        order = sorted(range(len(returns)), key=lambda i: -returns[i])[: config.elite]
        new_mean, new_std = _refit(mean, std, samples[order], config)
        record = Generation(
            generation=state.generation,
            mean=state.mean,
            std=state.std,
            candidates=candidates,
            returns=list(returns),
            mean_return=mean_return,
            population_return=float(np.mean(returns)),
            seconds=time.perf_counter() - started,
            info=info(state.generation) if info is not None else {},
        )
        state = state.model_copy(
            update={
                "generation": state.generation + 1,
                "mean": [float(v) for v in new_mean],
                "std": [float(v) for v in new_std],
                "history": [*state.history, record],
            }
        )
        if checkpoint is not None:
            save_state(state, checkpoint)
        if on_generation is not None:
            on_generation(record)
    return state
