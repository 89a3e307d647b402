"""A student preset: the built-in tiny student, smaller, with its own pretraining defaults."""

from __future__ import annotations

from typing import Any

from dataenvgym.students.factory import PretrainConfig, TinyStudentFactory
from dataenvgym.students.tiny import TinyStudentConfig

#: Small enough that an episode on textops takes seconds on a laptop CPU.
STUDENT_DEFAULTS: dict[str, Any] = {"d_model": 64, "n_layer": 2, "n_head": 2}
PRETRAIN_DEFAULTS: dict[str, Any] = {"steps": 300, "examples": 4000}


def make_student(
    config: dict[str, Any] | None = None, pretrain: dict[str, Any] | None = None
) -> TinyStudentFactory:
    """The plugin's factory: (``student_config``, ``pretrain``) -> a student factory.

    The run's settings override the preset's; the factory's ``name`` is what reports show.
    """
    factory = TinyStudentFactory(
        TinyStudentConfig.model_validate({**STUDENT_DEFAULTS, **(config or {})}),
        PretrainConfig.model_validate({**PRETRAIN_DEFAULTS, **(pretrain or {})}),
    )
    factory.name = "textops-tiny"
    return factory
