"""What each LLM role must answer with: small pydantic models, validated (and re-asked).

The model sees each schema's JSON schema in its prompt; the title of the schema names the
task, so keep class names telling. Field limits are generous on purpose: the code that reads
an answer trims and repairs what it can (too many items, an unknown skill) rather than
re-asking for things that do not matter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# --------------------------------------------------------------------------- engine


class GeneratedItem(BaseModel):
    """One training example: what the student sees and the answer it should give."""

    prompt: str = Field(description="The question, exactly in the domain's format.")
    answer: str = Field(description="The correct answer, in the domain's canonical form.")


class GeneratedItems(BaseModel):
    """The engine's answer: the training examples it wrote."""

    items: list[GeneratedItem]


# --------------------------------------------------------------------------- open-ended


class SpecProposal(BaseModel):
    """A kind of training data the student needs, with its share of the budget."""

    description: str = Field(min_length=1, description="What examples to write and why.")
    weight: int = Field(ge=0, description="How many examples this spec deserves.")
    example_prompt: str | None = Field(default=None, description="A student error to imitate.")
    example_answer: str | None = None


class OpenEndedPlan(BaseModel):
    """The Open-Ended policy's answer: an analysis of the errors and data specs."""

    analysis: str = ""
    specs: list[SpecProposal] = Field(min_length=1)


# --------------------------------------------------------------------------- skill list


class SkillShare(BaseModel):
    """How much of the budget one skill gets."""

    skill: str
    count: int = Field(ge=0)
    reason: str = ""


class SkillAllocation(BaseModel):
    """The Skill-List policy's first answer: the budget split over skills."""

    analysis: str = ""
    allocations: list[SkillShare] = Field(min_length=1)


class Hypothesis(BaseModel):
    """A guess at what the student lacks, phrased as the data that would teach it."""

    weakness: str = Field(min_length=1, description="What the student seems not to know.")
    data: str = Field(min_length=1, description="The training examples that would teach it.")


class SkillHypotheses(BaseModel):
    """The Skill-List policy's answer for one weak skill."""

    hypotheses: list[Hypothesis] = Field(min_length=1)


# --------------------------------------------------------------------------- skill tree


class ExploreRequest(BaseModel):
    """Add new subskills under a skill, each with the same allocation."""

    skill: str
    num_subskills: int = Field(ge=1, le=10)
    allocation: int = Field(ge=1, description="Training data per new subskill per iteration.")


class AllocationChange(BaseModel):
    """Change an existing subskill's allocation (0 prunes it)."""

    skill: str
    subskill: str
    allocation: int = Field(ge=0)


class TreeDecision(BaseModel):
    """The Skill-Tree policy's answer: explore (grow) and/or exploit (re-allocate, prune)."""

    # No default for ``mode``: a schema whose fields all have defaults would accept any
    # JSON object, e.g. a fragment of a truncated answer.
    analysis: str = ""
    mode: Literal["explore", "exploit", "both"]
    explore: list[ExploreRequest] = Field(default_factory=list)
    exploit: list[AllocationChange] = Field(default_factory=list)


class ProposedSubskill(BaseModel):
    """A new subskill: a short snake_case name and what it covers."""

    name: str = Field(min_length=1)
    description: str = ""


class SubskillProposals(BaseModel):
    """The subskill proposer's answer (also used by LLM skill discovery)."""

    subskills: list[ProposedSubskill] = Field(min_length=1)
