"""Wiring an LLM teacher into a run: the connection check and the parts a run needs.

The command line calls :func:`check_teacher` before it touches the run folder (so a missing
key or an unreachable server costs nothing and prints one line), then
:func:`build_llm_run` for the teacher and, with ``skills: llm``, the skill discovery.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dataenvgym.agents.llm.teacher import LLMTeacher, parse_teacher, split_settings
from dataenvgym.errors import ConfigError, DataEnvGymError
from dataenvgym.llm import LLMClient, LLMError
from dataenvgym.llm.cache import LLMCache
from dataenvgym.skills.llm import LLMSkillDiscovery

#: Where LLM skill discovery saves its result in a run folder (reloaded on resume).
SKILLS_FILE = "llm_skills.json"


class TeacherUnavailable(DataEnvGymError):
    """The LLM teacher cannot be used: missing key, unreachable server, refused request."""


def check_teacher(teacher: str, base_url: str | None, settings: Mapping[str, Any]) -> str | None:
    """Validate the settings and check the endpoint: reachable, key accepted, model served.

    Returns:
        A note when the model id could not be looked up in the server's model list.

    Raises:
        ConfigError: An invalid teacher spec or setting.
        TeacherUnavailable: Missing API key, unreachable server or refused key (one line).
    """
    model = parse_teacher(teacher)
    if model is None:
        return None
    config, _ = split_settings(model, base_url, settings, None)
    try:
        with LLMClient(config.model_copy(update={"cache_path": None})) as client:
            return client.check_connection()
    except LLMError as err:
        raise TeacherUnavailable(str(err)) from None


def check_cache(
    teacher: str, base_url: str | None, settings: Mapping[str, Any], run_dir: Path
) -> None:
    """Open the run's LLM cache, if it has one, so that a damaged file is named first.

    A resume checks this before asking the endpoint: a damaged cache is a local problem that
    a reachable server would not fix.

    Raises:
        ConfigError: An invalid teacher spec or setting.
        LLMCacheError: The cache file exists and cannot be read.
    """
    model = parse_teacher(teacher)
    if model is None:
        return
    config, _ = split_settings(model, base_url, settings, run_dir)
    if config.cache_path is not None and Path(config.cache_path).exists():
        LLMCache(config.cache_path).close()


def build_llm_run(
    teacher: str,
    base_url: str | None,
    settings: Mapping[str, Any],
    *,
    skills: str,
    domain: str,
    run_dir: Path | None,
) -> tuple[LLMTeacher, LLMSkillDiscovery | None]:
    """The run's teacher and, for ``skills == "llm"``, its skill discovery (same client).

    Raises:
        ConfigError: An invalid teacher spec or setting.
    """
    llm_teacher = LLMTeacher.from_spec(
        teacher, base_url=base_url, settings=settings, run_dir=run_dir
    )
    if skills == "gold":
        return llm_teacher, None
    if skills != "llm":
        raise ConfigError(f"unknown skills {skills!r}; use 'gold' or 'llm'")
    opts = llm_teacher.options
    discovery = LLMSkillDiscovery(
        llm_teacher.client,
        domain,
        max_skills=opts.discovery_max_skills,
        batch_size=opts.discovery_batch,
        subskills_per_skill=opts.discovery_subskills,
        assign_rounds=opts.discovery_assign_rounds,
        max_reasks=opts.max_reasks,
        save_path=run_dir / SKILLS_FILE if run_dir is not None else None,
    )
    llm_teacher.discovery_stats = discovery.stats
    return llm_teacher, discovery


@contextmanager
def teacher_errors() -> Iterator[None]:
    """Turn a setup error of the LLM met mid-run (key revoked, model gone) into one line."""
    try:
        yield
    except LLMError as err:
        raise TeacherUnavailable(str(err)) from err
