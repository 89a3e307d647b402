"""The configuration of a run: one pydantic model, loadable from YAML, overridable by flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dataenvgym.envs.registration import default_student, episode_defaults
from dataenvgym.errors import ConfigError, first_validation_error
from dataenvgym.training import TrainerConfig, with_step_defaults

EnvName = Literal["open-ended", "skill-list", "skill-tree"]


class RunConfig(BaseModel):
    """Everything that defines an episode. Unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    env: EnvName = Field(default="skill-tree", description="Which teacher environment.")
    domain: str = Field(default="arithmetic", description="Which domain (see `list`).")
    agent: str = Field(default="with-state", description="Which teacher agent.")
    student: str | None = Field(
        default=None, description="Which student; None: the domain's own (tiny-vqa for vqa)."
    )
    seed: int = Field(default=0, description="Seeds splits, student, data and training.")
    iterations: int = Field(default=5, ge=1, description="Teaching iterations (steps).")
    budget: int = Field(default=384, ge=1, description="Training data per iteration.")
    test_every_iteration: bool = Field(
        default=True, description="Score the test split after every iteration (for plots)."
    )
    trainer: TrainerConfig = Field(
        default_factory=TrainerConfig,
        description="How the student trains each iteration: mode, steps (by default epochs "
        "over the data, bounded; see dataenvgym.training.TrainerConfig), replay.",
    )
    student_config: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the student kind (validated by it)."
    )
    pretrain: dict[str, Any] = Field(
        default_factory=dict, description="How the base student is made (validated by it)."
    )
    domain_config: dict[str, Any] = Field(default_factory=dict)
    teacher: str = Field(
        default="procedural",
        description="Who writes the data: 'procedural' (offline generators) or 'openai:MODEL' "
        "(any OpenAI-compatible chat endpoint; see base_url).",
    )
    base_url: str | None = Field(
        default=None,
        description="Endpoint of an openai:MODEL teacher, e.g. http://localhost:8000/v1 for "
        "vLLM; None is OpenAI itself.",
    )
    skills: Literal["gold", "llm"] = Field(
        default="gold",
        description="Skill labels of validation items: the domain's own, or discovered by "
        "the LLM teacher.",
    )
    llm: dict[str, Any] = Field(
        default_factory=dict,
        description="LLM teacher settings (api_key_env, temperature, max_concurrency, prices, "
        "cache_path, items_per_call, ...; see dataenvgym.agents.llm). Never the key itself.",
    )

    @field_validator("teacher")
    @classmethod
    def _teacher_spec(cls, value: str) -> str:
        if value != "procedural" and not (
            value.startswith("openai:") and value.removeprefix("openai:").strip()
        ):
            raise ValueError("use 'procedural' or 'openai:MODEL'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _episode_defaults(cls, data: Any) -> Any:
        # Budget and training steps a student needs on a domain (EPISODE_DEFAULTS) fill only
        # what the user left out; a saved config.yaml holds them, so resume is unaffected.
        if not isinstance(data, dict) or not isinstance(data.get("domain", "arithmetic"), str):
            return data
        domain = data.get("domain", "arithmetic")
        defaults = episode_defaults(data.get("student") or default_student(domain), domain)
        if not defaults:
            return data
        data = {**data, "budget": data.get("budget", defaults["budget"])}
        trainer = data.get("trainer", {})
        if isinstance(trainer, dict) and "steps_per_iteration" in defaults:
            steps = {"steps_per_iteration": defaults["steps_per_iteration"]}
            data["trainer"] = with_step_defaults(steps, trainer)
        return data

    @model_validator(mode="after")
    def _domain_default_student(self) -> RunConfig:
        # Resolved here, so a run folder's config.yaml names the student that ran.
        if self.student is None:
            self.student = default_student(self.domain)
        return self

    @model_validator(mode="after")
    def _llm_skills_need_llm_teacher(self) -> RunConfig:
        if self.skills == "llm" and self.teacher == "procedural":
            raise ValueError("skills 'llm' needs an LLM teacher: set teacher to openai:MODEL")
        return self

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`dataenvgym.registry.make_env`."""
        return {
            "env": self.env,
            "domain": self.domain,
            "student": self.student,
            "env_config": {"budget_per_iteration": self.budget, "max_iterations": self.iterations},
            "trainer_config": self.trainer,
            "student_config": self.student_config,
            "pretrain_config": self.pretrain,
            "domain_config": self.domain_config,
        }


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config (if any), apply non-``None`` overrides, validate.

    Raises:
        ConfigError: with one line naming the file, the field and the problem.
    """
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path} is not valid YAML{where}: fix the syntax") from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(
                f"{path} must hold a mapping of settings, not {type(loaded).__name__}"
            )
        data = loaded or {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        source = str(path) if path is not None else "options"
        where = first_validation_error(err, "config")
        raise ConfigError(f"invalid setting in {source}: {where}") from err
