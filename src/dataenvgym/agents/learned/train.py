"""Train the learned teacher: the cross-entropy method over θ on episode returns, with a
checkpoint and a learning-curve report after every generation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataenvgym.agents.learned.cem import CEMConfig, CEMState, Generation, train_cem
from dataenvgym.agents.learned.episodes import EpisodeObjective, EpisodeSettings
from dataenvgym.agents.learned.policy import FEATURES, RULE_WEIGHT, LearnedParams

#: File names in a training folder.
CHECKPOINT = "checkpoint.json"
CURVE_JSON = "learning_curve.json"
CURVE_MD = "learning_curve.md"
CURVE_PNG = "learning_curve.png"


def initial_mean() -> list[float]:
    """Where the search starts: the with-state rule (``rule`` at :data:`RULE_WEIGHT`, every
    other weight 0), so that it learns corrections to a rule that already works rather than
    rediscovering it from the uniform split in a few dozen noisy episodes."""
    return [RULE_WEIGHT if name == "rule" else 0.0 for name in FEATURES]


def params_of(state: CEMState) -> LearnedParams:
    """The learned parameters a checkpoint holds: its current mean and the floor it was
    trained with."""
    floor = float(state.settings.get("floor", 0.2))
    return LearnedParams.from_vector(state.mean, floor=floor)


def learning_curve(state: CEMState) -> dict[str, Any]:
    """Per generation: the population's mean return, the mean θ's return, and the
    with-state agent's return on the same episodes."""
    return {
        "features": list(state.names),
        "episodes": state.episodes + len(state.history),  # with the with-state yardstick
        "wall_seconds": round(state.seconds, 1),
        "generations": [
            {
                "generation": g.generation,
                "population_return": round(g.population_return, 4),
                "best_return": round(max(g.returns), 4),
                "mean_theta_return": round(g.mean_return, 4),
                "with_state_return": g.info.get("with_state_return"),
                "episodes": g.info.get("episodes", []),
                "seconds": round(g.seconds, 1),
            }
            for g in state.history
        ],
        "theta": dict(zip(state.names, (round(v, 4) for v in state.mean), strict=True)),
        "theta_std": dict(zip(state.names, (round(v, 4) for v in state.std), strict=True)),
    }


def _markdown(curve: dict[str, Any]) -> str:
    lines = [
        "# Learned teacher: learning curve",
        "",
        "Returns are final validation accuracies, each generation on its own training "
        "episodes (common to every candidate and to the with-state agent).",
        "",
        "| generation | episodes | population | best | mean θ | with-state |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for g in curve["generations"]:
        where = ", ".join(f"{e['setting']} seed {e['seed']}" for e in g["episodes"])
        base = g["with_state_return"]
        lines.append(
            f"| {g['generation']} | {where} | {g['population_return']:.4f} | "
            f"{g['best_return']:.4f} | {g['mean_theta_return']:.4f} | "
            f"{'' if base is None else f'{base:.4f}'} |"
        )
    lines += ["", f"Training cost: {curve['episodes']} episodes, {curve['wall_seconds']} s.", ""]
    lines += ["| feature | θ | std |", "| --- | --- | --- |"]
    lines += [
        f"| {k} | {v:+.3f} | {curve['theta_std'][k]:.3f} |" for k, v in curve["theta"].items()
    ]
    return "\n".join(lines) + "\n"


def _plot(curve: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gens = [g["generation"] for g in curve["generations"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (
        ("population_return", "population (mean)"),
        ("mean_theta_return", "mean θ"),
        ("with_state_return", "with-state"),
    ):
        values = [g[key] for g in curve["generations"]]
        if all(v is not None for v in values):
            ax.plot(gens, values, marker="o", label=label)
    ax.set_xlabel("generation")
    ax.set_ylabel("final validation accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(state: CEMState, out_dir: Path) -> dict[str, Any]:
    """Write the learning curve as JSON, markdown and PNG into ``out_dir``; return it."""
    curve = learning_curve(state)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CURVE_JSON).write_text(json.dumps(curve, indent=2) + "\n")
    (out_dir / CURVE_MD).write_text(_markdown(curve))
    _plot(curve, out_dir / CURVE_PNG)
    return curve


def train_teacher(
    out_dir: Path,
    cem: CEMConfig,
    episodes: EpisodeSettings,
    *,
    on_generation: Callable[[Generation], None] | None = None,
) -> CEMState:
    """Train (or continue training) a learned teacher in ``out_dir``.

    ``out_dir/checkpoint.json`` is written after every generation (the file the built-in
    agent ships, see :func:`dataenvgym.agents.learned.agent.load_params`), with the learning
    curve beside it; running again with the same folder and settings continues from it.
    """
    objective = EpisodeObjective(episodes)
    checkpoint = out_dir / CHECKPOINT

    def after(generation: Generation) -> None:
        state = CEMState.model_validate_json(checkpoint.read_text())
        write_report(state, out_dir)
        if on_generation is not None:
            on_generation(generation)

    state = train_cem(
        objective,
        names=FEATURES,
        init_mean=initial_mean(),
        config=cem,
        checkpoint=checkpoint,
        settings=episodes.model_dump(mode="json"),
        info=objective.info,
        on_generation=after,
    )
    write_report(state, out_dir)
    return state
