"""Names -> components, and the Gymnasium registration of every environment id.

This module sits on top: it is one of the few places that imports concrete domains,
students, environments and agents together.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from dataenvgym.agents.base import Agent
from dataenvgym.agents.learned.agent import make_learned_agent
from dataenvgym.agents.oracle import make_oracle
from dataenvgym.agents.plugins import (
    build_custom_agent,
    is_custom_agent,
    is_dotted_path,
    load_factory,
)
from dataenvgym.agents.policies import (
    NO_STATE_REVISIONS,
    STATE_POLICIES,
    WEAKEST_FIRST_REVISION,
    WITH_STATE_REVISIONS,
    NoStatePolicy,
    WeakestFirstPolicy,
)
from dataenvgym.agents.procedural import ProceduralEngine
from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain
from dataenvgym.domains.code.domain import PRETRAIN_DEFAULTS as CODE_PRETRAIN_DEFAULTS
from dataenvgym.domains.code.domain import TINY_STUDENT_DEFAULTS as CODE_TINY_DEFAULTS
from dataenvgym.domains.code.domain import CodeConfig, CodeDomain
from dataenvgym.domains.contract import DomainContractError, Violation, run_contract
from dataenvgym.domains.guard import GuardedDomain
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
from dataenvgym.plugins import DOMAIN_GROUP, STUDENT_GROUP, call_factory, installed, load
from dataenvgym.protocols import (
    Domain,
    LimitedStudentFactory,
    ProceduralDomain,
    SkillDiscovery,
    StudentFactory,
    TextLimits,
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
    "weakest-first": "poor with-state rule kept as a yardstick: data per unit ∝ (1 − accuracy)²",
    "learned": "with-state plans, budget split by a rule learned from episodes (train-teacher)",
}


def _choose(kind: str, name: str, options: dict[str, Any], group: str | None = None) -> Any:
    if name not in options:
        names = sorted(options)
        if group is not None:
            names += sorted(set(installed(group)) - set(options))
        hint = (
            ", or a module:factory path / an entry point of group "
            f"{group!r} (see `dataenvgym list`)"
            if group
            else ""
        )
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(names)}{hint}")
    return options[name]


def _is_plugin(group: str, name: str, builtins: dict[str, Any]) -> bool:
    return name not in builtins and (is_dotted_path(name) or name in installed(group))


def check_names(*, domain: str, agent: str, student: str | None) -> None:
    """Raise :class:`ConfigError` naming the choices if any name is unknown.

    A user's domain, student or agent (an entry point or a ``module:factory`` path) must
    import; it is not called here.
    """
    if _is_plugin(DOMAIN_GROUP, domain, DOMAINS):
        load(DOMAIN_GROUP, "domain", domain)
    else:
        _choose("domain", domain, DOMAINS, DOMAIN_GROUP)
    if agent in AGENTS or not is_custom_agent(agent):
        _choose("agent", agent, AGENTS)
    else:
        load_factory(agent)  # a user's agent (entry point or module:factory) must load
    student = student or default_student(domain)
    if _is_plugin(STUDENT_GROUP, student, STUDENTS):
        load(STUDENT_GROUP, "student", student)
    else:
        _choose("student", student, STUDENTS, STUDENT_GROUP)


def make_domain(name: str, config: dict[str, Any] | None = None) -> Domain:
    """A domain by name (see ``dataenvgym list``): built in, an entry point of group
    ``dataenvgym.domains`` or a ``module:factory`` path (``factory(config) -> Domain``).

    A user's domain is returned as its factory made it; :func:`make_env` checks it.

    Raises:
        ConfigError: an unknown name, or a ``domain_config`` the domain rejects.
    """
    if _is_plugin(DOMAIN_GROUP, name, DOMAINS):
        made = call_factory(load(DOMAIN_GROUP, "domain", name), "domain", name, config or {})
        if made is None or isinstance(made, type):
            raise ConfigError(
                f"domain factory {name!r} returned {made!r}; return a domain instance "
                "(an object with name, skills, splits, score and verify)"
            )
        return made
    build = _choose("domain", name, DOMAINS, DOMAIN_GROUP)
    try:
        return build(config or {})
    except ValidationError as err:
        where = first_validation_error(err, "domain_config")
        raise ConfigError(f"invalid domain_config for domain {name!r}: {where}") from err


def _plugin_student(name: str) -> StudentEntry:
    """A user's student kind, built by ``factory(student_config[, pretrain_config])``."""
    factory = load(STUDENT_GROUP, "student", name)

    def build(student_config: dict[str, Any], pretrain_config: dict[str, Any]) -> StudentFactory:
        made = call_factory(factory, "student", name, student_config, pretrain_config)
        if not isinstance(made, StudentFactory):
            raise ConfigError(
                f"student factory {name!r} returned a {type(made).__name__}; return a "
                "dataenvgym.protocols.StudentFactory (name and base_student(domain, *, seed, "
                "exclude_prompts))"
            )
        return made

    return StudentEntry(f"plugin {name}", build)


def is_builtin_domain(domain: object) -> bool:
    """Whether ``domain`` is one of the library's own domain classes."""
    return type(domain).__module__.startswith("dataenvgym.")


#: Contract checks of built-in domains already passed in this process, by configuration.
_CHECKED: set[str] = set()


def check_environment_domain(domain: Domain, limits: TextLimits | None, seed: int = 0) -> Domain:
    """The contract check run when an environment is built; the domain to build it with.

    A built-in domain gets the cheap part (generators, verifier, student fit of generated
    data; once per configuration and process); that its data do not fit a student configured
    smaller than the domain's defaults is only warned about (``UserWarning``), as a run may
    truncate on purpose. Any other domain is checked whole on
    ``splits(seed)`` and comes back wrapped in a :class:`GuardedDomain`, so that its
    failures during the run name the domain, method, split and item.

    Raises:
        DomainContractError: a violation, as one line per violation.
    """
    if isinstance(domain, GuardedDomain):
        return domain
    if is_builtin_domain(domain):
        config = getattr(domain, "config", None)
        key = repr((type(domain).__qualname__, config, limits))
        if key not in _CHECKED:
            report = run_contract(domain, limits=limits, seed=seed, splits=False)
            broken = [v for v in report.violations if not v.student_fit]
            if broken:
                raise DomainContractError(broken)
            for violation in report.violations:
                warnings.warn(violation.line(), UserWarning, stacklevel=3)
            _CHECKED.add(key)
        return domain
    report = run_contract(domain, limits=limits, seed=seed)
    if report.violations:
        raise DomainContractError(report.violations)
    guarded = GuardedDomain(domain, limits)
    if report.splits is not None:
        guarded.remember(seed, report.splits)
    return guarded  # type: ignore[return-value]


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

    ``domain`` (and ``student``) may be a built-in name, an entry-point name or a
    ``module:factory`` path, or (domain) a domain object. The domain is checked against its
    contract first (:func:`check_environment_domain`), before anything is trained.

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
    factory = make_student_factory(student, domain_obj.name, student_config, pretrain_config)
    try:
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
        raise _setting_error(err) from err
    limits = factory.text_limits() if isinstance(factory, LimitedStudentFactory) else None
    domain_obj = check_environment_domain(domain_obj, limits)
    return env_cls(
        domain_obj,
        factory,
        trainer,
        config=config,
        render_mode=render_mode,
        skill_discovery=skill_discovery,
    )


def _setting_error(err: ValidationError) -> ConfigError:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or err.title
    return ConfigError(f"invalid {err.title} setting {where}: {first['msg']}")


def make_student_factory(
    student: str,
    domain: str,
    student_config: BaseModel | dict[str, Any] | None = None,
    pretrain_config: BaseModel | dict[str, Any] | None = None,
) -> StudentFactory:
    """The factory of a student kind (built in, entry point or ``module:factory``) for a
    domain, with the domain's own defaults for that student under the given settings.

    Raises:
        ConfigError: an unknown student, or settings it rejects.
    """
    entry: StudentEntry
    if _is_plugin(STUDENT_GROUP, student, STUDENTS):
        entry = _plugin_student(student)
    else:
        entry = _choose("student", student, STUDENTS, STUDENT_GROUP)
    defaults = STUDENT_DEFAULTS.get((student, domain), {})
    try:
        return entry.build(
            {**defaults.get("student", {}), **_as_dict(student_config)},
            {**defaults.get("pretrain", {}), **_as_dict(pretrain_config)},
        )
    except ValidationError as err:
        raise _setting_error(err) from err


def domain_violations(
    domain: str,
    *,
    domain_config: dict[str, Any] | None = None,
    student: str | None = None,
    student_config: dict[str, Any] | None = None,
    pretrain_config: dict[str, Any] | None = None,
    seed: int = 0,
) -> list[Violation]:
    """The whole contract check of a domain by name, for the student it would run with
    (``dataenvgym check-domain``); empty when the domain keeps its contract.

    Raises:
        ConfigError: the domain or student cannot be built at all.
    """
    domain_obj = make_domain(domain, domain_config)
    name = getattr(domain_obj, "name", domain)
    factory = make_student_factory(
        student or default_student(domain), str(name), student_config, pretrain_config
    )
    limits = factory.text_limits() if isinstance(factory, LimitedStudentFactory) else None
    return run_contract(domain_obj, limits=limits, seed=seed).violations


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
        name: ``with-state``, ``no-state``, ``weakest-first`` or ``learned``.
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
    if name == "learned":
        return make_learned_agent(env, domain)
    catalogue = domain.skills()
    if name == "no-state":
        return Agent(
            policy=NoStatePolicy(catalogue),
            engine=ProceduralEngine(domain),
            name=name,
            revision=NO_STATE_REVISIONS.get(env),
        )
    if name == "weakest-first":
        return Agent(
            policy=WeakestFirstPolicy(catalogue),
            engine=ProceduralEngine(domain),
            name=name,
            revision=WEAKEST_FIRST_REVISION,
        )
    return Agent(
        policy=STATE_POLICIES[env](catalogue, None),
        engine=ProceduralEngine(domain),
        name=name,
        revision=WITH_STATE_REVISIONS.get(env),
    )
