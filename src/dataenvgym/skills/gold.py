"""Gold skill discovery: the skills a domain labels its instances with."""

from __future__ import annotations

from collections.abc import Sequence

from dataenvgym.protocols import Domain
from dataenvgym.types import Skill, TaskInstance


class GoldSkillDiscovery:
    """Uses the domain's taxonomy and the labels its instances already carry."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def discover(self, instances: Sequence[TaskInstance]) -> list[Skill]:
        present = {inst.skill for inst in instances}
        return [skill for skill in self.domain.skills() if skill.name in present]

    def assign(self, instances: Sequence[TaskInstance]) -> list[TaskInstance]:
        missing = [inst.id for inst in instances if inst.skill is None]
        if missing:
            raise ValueError(
                f"{len(missing)} instances have no gold skill (first: {missing[0]}); "
                "use LLM skill discovery for unlabelled data"
            )
        return list(instances)
