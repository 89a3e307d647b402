"""Operations on the skill forest shared by the Skill-Tree environment and its agents."""

from __future__ import annotations

from dataenvgym.errors import InvalidActionError
from dataenvgym.types import SkillForest, SkillTreeAction, SubskillNode, subskill_key


def apply_tree_action(
    forest: SkillForest, action: SkillTreeAction
) -> tuple[SkillForest, list[str]]:
    """Return the forest after ``action`` (the input is left untouched) and the pruned keys.

    Raises:
        InvalidActionError: unknown skill or subskill, or a subskill explored twice.
    """
    new = forest.model_copy(deep=True)
    known = sorted(new.skills)
    for skill, proposals in action.explore.items():
        if skill not in new.skills:
            raise InvalidActionError(f"explore: unknown skill {skill!r}; known: {known}")
        node = new.skills[skill]
        for proposal in proposals:
            if proposal.name in node.subskills:
                raise InvalidActionError(
                    f"explore: {skill}/{proposal.name} already exists; exploit it instead"
                )
            node.subskills[proposal.name] = SubskillNode(
                name=proposal.name, description=proposal.description, allocation=proposal.allocation
            )
    pruned: list[str] = []
    for skill, allocations in action.exploit.items():
        if skill not in new.skills:
            raise InvalidActionError(f"exploit: unknown skill {skill!r}; known: {known}")
        node = new.skills[skill]
        for name, allocation in allocations.items():
            if name not in node.subskills:
                raise InvalidActionError(
                    f"exploit: unknown subskill {skill}/{name}; "
                    f"known under {skill}: {sorted(node.subskills)}"
                )
            if allocation < 0:
                raise InvalidActionError(f"exploit: negative allocation for {skill}/{name}")
            if allocation == 0:
                del node.subskills[name]
                pruned.append(subskill_key(skill, name))
            else:
                node.subskills[name].allocation = allocation
    return new, pruned
