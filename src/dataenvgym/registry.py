"""Names -> components, and the Gymnasium registration of every environment id.

This module sits on top: it is one of the few places that imports concrete domains,
students, environments and agents together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from dataenvgym.agents.base import Agent
from dataenvgym.agents.oracle import make_oracle
from dataenvgym.agents.plugins import build_custom_agent, is_custom_agent, load_factory
from dataenvgym.agents.policies import STATE_POLICIES, WITH_STATE_REVISIONS, NoStatePolicy
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain
from dataenvgym.domains.code.domain import PRETRAIN_DEFAULTS as CODE_PRETRAIN_DEFAULTS
from dataenvgym.domains.code.domain import TINY_STUDENT_DEFAULTS as CODE_TINY_DEFAULTS
from dataenvgym.domains.code.domain import CodeConfig, CodeDomain
from dataenvgym.domains.math import GSM8KConfig, GSM8KDomain, MathConfig, MathDomain
from dataenvgym.domains.task_file import TaskFileConfig, TaskFileDomain
from dataenvgym.domains.tooluse.domain import PRETRAIN_DEFAULTS as TOOLUSE_PRETRAIN_DEFAULTS
from dataenvgym.domains.tooluse.domain import TINY_STUDENT_DEFAULTS as TOOLUSE_TINY_DEFAULTS
from dataenvgym.domains.tooluse.domain import ToolUseConfig, ToolUseDomain
from dataenvgym.domains.vqa.domain import VQAConfig, VQADomain
from dataenvgym.envs.base import EnvConfig, TeacherEnv
from dataenvgym.envs.open_ended import OpenEndedEnv
from dataenvgym.envs.registration import default_student, episode_defaults
from dataenvgym.envs.skill_list import SkillListEnv
from dataenvgym.envs.skill_tree import SkillTreeEnv
from dataenvgym.errors import ConfigError, first_validation_error
from dataenvgym.protocols import (
    Domain,
    ProceduralDomain,
    SkillDiscovery,
    StudentFactory,
)
from dataenvgym.students.factory import PretrainConfig, TinyStudentFactory
from dataenvgym.students.tiny import TinyStudentConfig
from dataenvgym.students.vqa import VQAStudentConfig
from dataenvgym.students.vqa_factory import VQAPretrainConfig, VQAStudentFactory
from dataenvgym.training import TrainerConfig, make_trainer, with_step_defaults
from dataenvgym.types import Skill

if TYPE_CHECKING:  # the LLM extra is optional: imported only when a teacher is given
    from dataenvgym.agents.llm import LLMTeacher

ENVS: dict[str, type[TeacherEnv[Any, Any]]] = {
    "open-ended": OpenEndedEnv,
    "skill-list": SkillListEnv,
    "skill-tree": SkillTreeEnv,
}

DOMAINS: dict[str, Callable[[dict[str, Any]], Domain]] = {
    "arithmetic": lambda cfg: ArithmeticDomain(ArithmeticConfig(**cfg)),
    "jsonl": lambda cfg: TaskFileDomain(TaskFileConfig(**cfg)),
    "vqa": lambda cfg: VQADomain(VQAConfig(**cfg)),
    "math": lambda cfg: MathDomain(MathConfig(**cfg)),
    "gsm8k": lambda cfg: GSM8KDomain(GSM8KConfig(**cfg)),
    "code": lambda cfg: CodeDomain(CodeConfig(**cfg)),
    "tool-use": lambda cfg: ToolUseDomain(ToolUseConfig(**cfg)),
}

#: (student kind, domain) -> settings that student gets on that domain unless the run sets
#: them: ``{"student": {...}, "pretrain": {...}}``. Code and tool use need a longer context
#: than arithmetic's 48 characters.
STUDENT_DEFAULTS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("tiny", "code"): {"student": CODE_TINY_DEFAULTS, "pretrain": CODE_PRETRAIN_DEFAULTS},
    ("tiny", "tool-use"): {"student": TOOLUSE_TINY_DEFAULTS, "pretrain": TOOLUSE_PRETRAIN_DEFAULTS},
}


@dataclass(frozen=True)
class StudentEntry:
    """A student kind: what it is, and how to build its factory from plain config dicts.

    ``build(student_config, pretrain_config)`` validates the dicts itself, so each student
    kind owns its own settings.
    """

    description: str
    build: Callable[[dict[str, Any], dict[str, Any]], StudentFactory]


def _tiny_student(
    student_config: dict[str, Any], pretrain_config: dict[str, Any]
) -> StudentFactory:
    return TinyStudentFactory(
        TinyStudentConfig.model_validate(student_config),
        PretrainConfig.model_validate(pretrain_config),
    )


def _tiny_vqa_student(
    student_config: dict[str, Any], pretrain_config: dict[str, Any]
) -> StudentFactory:
    return VQAStudentFactory(
        VQAStudentConfig.model_validate(student_config),
        VQAPretrainConfig.model_validate(pretrain_config),
    )


def _hf_vlm_student(
    student_config: dict[str, Any], pretrain_config: dict[str, Any]
) -> StudentFactory:
    # Imported here: transformers and peft are the optional [hf] extra.
    from dataenvgym.students.vlm import VLMStudentConfig, VLMStudentFactory

    return VLMStudentFactory(VLMStudentConfig.model_validate(student_config))


def _hf_student(student_config: dict[str, Any], pretrain_config: dict[str, Any]) -> StudentFactory:
    from dataenvgym.students.hf import HFStudentConfig, HFStudentFactory

    if pretrain_config:
        raise ConfigError(
            "the hf student has no pretraining stage (the pretrained model is the base); "
            f"remove the pretrain settings {sorted(pretrain_config)}"
        )
    return HFStudentFactory(HFStudentConfig.model_validate(student_config))


STUDENTS: dict[str, StudentEntry] = {
    "tiny": StudentEntry(
        "character-level GPT trained from scratch on CPU (built in)", _tiny_student
    ),
    "tiny-vqa": StudentEntry(
        "CNN image encoder + GRU question encoder + answer head, trained on CPU (built in)",
        _tiny_vqa_student,
    ),
    "hf": StudentEntry(
        "any transformers causal LM with a LoRA adapter (default: packaged SmolLM2-135M)",
        _hf_student,
    ),
    "hf-vlm": StudentEntry(
        "any transformers image-text-to-text model (PaliGemma-style) with a LoRA adapter",
        _hf_vlm_student,
    ),
}

AGENTS = {
    "with-state": "reads the observation: progress × zone of proximal development, 20% floor",
    "no-state": "baseline: same budget, uniform over skills, ignores the observation",
    "oracle": "PRIVILEGED upper bound: one-step look-ahead on the student, private test copy",
}


def _choose(kind: str, name: str, options: dict[str, Any]) -> Any:
    if name not in options:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(options))}")
    return options[name]


def check_names(*, domain: str, agent: str, student: str | None) -> None:
    """Raise :class:`ConfigError` naming the choices if any name is unknown."""
    _choose("domain", domain, DOMAINS)
    if agent in AGENTS or not is_custom_agent(agent):
        _choose("agent", agent, AGENTS)
    else:
        load_factory(agent)  # a user's agent (entry point or module:factory) must load
    _choose("student", student or default_student(domain), STUDENTS)


def make_domain(name: str, config: dict[str, Any] | None = None) -> Domain:
    """A domain by name (see ``dataenvgym list``).

    Raises:
        ConfigError: an unknown name, or a ``domain_config`` the domain rejects.
    """
    build = _choose("domain", name, DOMAINS)
    try:
        return build(config or {})
    except ValidationError as err:
        where = first_validation_error(err, "domain_config")
        raise ConfigError(f"invalid domain_config for domain {name!r}: {where}") from err


def make_env(
    env: str = "skill-tree",
    domain: str | Domain = "arithmetic",
    *,
    student: str | None = None,
    env_config: EnvConfig | dict[str, Any] | None = None,
    trainer_config: TrainerConfig | dict[str, Any] | None = None,
    student_config: BaseModel | dict[str, Any] | None = None,
    pretrain_config: BaseModel | dict[str, Any] | None = None,
    domain_config: dict[str, Any] | None = None,
    render_mode: str | None = None,
    skill_discovery: SkillDiscovery | None = None,
) -> TeacherEnv[Any, Any]:
    """Build a teacher environment from names and plain config dicts.

    This is the entry point behind every registered id, so
    ``gymnasium.make("dataenvgym/Arithmetic-SkillTree-v0", env_config={"max_iterations": 3})``
    accepts the same keywords. ``student`` defaults to the domain's own (``tiny`` for text
    domains, ``tiny-vqa`` for VQA; see ``envs.registration.DEFAULT_STUDENTS``).
    ``skill_discovery`` replaces the domain's gold skills (e.g.
    :class:`dataenvgym.skills.llm.LLMSkillDiscovery`).
    """
    env_cls = _choose("environment", env, ENVS)
    domain_obj = make_domain(domain, domain_config) if isinstance(domain, str) else domain
    if student is None:
        student = default_student(domain if isinstance(domain, str) else domain_obj.name)
    entry: StudentEntry = _choose("student", student, STUDENTS)
    defaults = STUDENT_DEFAULTS.get((student, domain_obj.name), {})
    try:
        factory = entry.build(
            {**defaults.get("student", {}), **_as_dict(student_config)},
            {**defaults.get("pretrain", {}), **_as_dict(pretrain_config)},
        )
        episode = episode_defaults(student, domain_obj.name)
        trainer_defaults = {k: v for k, v in episode.items() if k == "steps_per_iteration"}
        env_defaults = {"budget_per_iteration": episode["budget"]} if "budget" in episode else {}
        trainer = make_trainer(
            TrainerConfig.model_validate(
                with_step_defaults(trainer_defaults, _as_dict(trainer_config))
            )
        )
        config = EnvConfig.model_validate({**env_defaults, **_as_dict(env_config)})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or err.title
        raise ConfigError(f"invalid {err.title} setting {where}: {first['msg']}") from err
    return env_cls(
        domain_obj,
        factory,
        trainer,
        config=config,
        render_mode=render_mode,
        skill_discovery=skill_discovery,
    )


def _as_dict(config: BaseModel | dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    return config.model_dump() if isinstance(config, BaseModel) else dict(config)


def make_agent(
    name: str,
    env: str,
    domain: Domain,
    *,
    teacher: LLMTeacher | None = None,
    catalogue: Sequence[Skill] | Callable[[], Sequence[Skill]] | None = None,
) -> Agent:
    """A built-in agent for an environment kind and domain.

    Args:
        name: ``with-state`` or ``no-state``.
        env: The environment kind.
        domain: The environment's domain.
        teacher: An LLM teacher: the LLM writes the data (and, with state, plans it);
            None uses the offline procedural teacher.
        catalogue: The skills the agent plans over (LLM teachers only; a callable for
            skills discovered at reset); default the domain's gold skills.

    ``name`` may also be ``oracle`` (privileged; procedural domains only) or a user's agent:
    an entry point of group ``dataenvgym.agents`` or a ``module:factory`` path (see
    :mod:`dataenvgym.agents.plugins`).
    """
    if name not in AGENTS and is_custom_agent(name):
        _choose("environment", env, ENVS)
        return build_custom_agent(name, env, domain)
    _choose("agent", name, AGENTS)
    _choose("environment", env, ENVS)
    if name == "oracle":
        if teacher is not None:
            raise ConfigError("the oracle writes its own data: run it with teacher 'procedural'")
        return make_oracle(domain)
    if teacher is not None:
        from dataenvgym.agents.llm import make_llm_agent

        return make_llm_agent(name, env, domain, teacher, catalogue=catalogue)
    if not isinstance(domain, ProceduralDomain):
        raise ConfigError(
            f"the built-in agents need a domain with procedural generators; {domain.name!r} "
            "has none: use an LLM teacher"
        )
    catalogue = domain.skills()
    if name == "no-state":
        return Agent(policy=NoStatePolicy(catalogue), engine=ProceduralEngine(domain), name=name)
    return Agent(
        policy=STATE_POLICIES[env](catalogue, None),
        engine=ProceduralEngine(domain),
        name=name,
        revision=WITH_STATE_REVISIONS.get(env),
    )
