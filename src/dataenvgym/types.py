"""The data that flows through a teaching loop, shared by every domain and environment.

One generic family of pydantic models serves all domains: a domain only decides what goes
into ``prompt`` and ``answer`` and how a prediction is scored. Nothing here imports torch or
any other part of the package, so every module can depend on it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Where a training datum came from; kept on every datum so exported datasets carry provenance.
DataSource = Literal["procedural", "llm", "pretrain", "user"]


class TaskInstance(BaseModel):
    """One question the student must answer (a validation or test item).

    Attributes:
        id: Unique within its domain and split.
        domain: Name of the domain that owns the format and the scorer.
        prompt: The text the student sees.
        answer: The gold answer, in the domain's canonical form.
        skill: Gold top-level skill, when the domain provides one.
        subskill: Gold subskill within ``skill``, when the domain provides one.
        metadata: Domain-specific extras (operands, tests, scene spec, ...).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    domain: str
    prompt: str
    answer: str
    skill: str | None = None
    subskill: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Score(BaseModel):
    """How a prediction fared: exact correctness and partial credit in [0, 1]."""

    model_config = ConfigDict(frozen=True)

    correct: bool
    partial: float = Field(ge=0.0, le=1.0)


class EvaluatedInstance(BaseModel):
    """A task instance together with the student's answer and its score."""

    instance: TaskInstance
    prediction: str
    correct: bool
    partial: float = Field(ge=0.0, le=1.0)


class TrainingDatum(BaseModel):
    """One supervised example written by a teacher: the student learns ``prompt -> response``.

    Attributes:
        id: Unique id (engines derive it from content, so duplicates are detectable).
        domain: Must match the environment's domain, or the step rejects the action.
        prompt: Input text, in the same format as :attr:`TaskInstance.prompt`.
        response: Target text, in the same format as :attr:`TaskInstance.answer`.
        skill: The skill the teacher meant to train.
        subskill: The subskill the teacher meant to train.
        source: Provenance: procedural generator, LLM, pretraining mix or user.
        iteration: The iteration that produced it (set by the environment).
        metadata: Anything the engine wants to keep (generator params, LLM call ids...).
    """

    id: str
    domain: str
    prompt: str
    response: str
    skill: str | None = None
    subskill: str | None = None
    source: DataSource = "procedural"
    iteration: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("prompt", "response")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def as_instance(self, id: str | None = None) -> TaskInstance:
        """This datum as a question to score the student on (its response is the answer).

        Args:
            id: The instance's id; the datum's own by default.
        """
        return TaskInstance(
            id=self.id if id is None else id,
            domain=self.domain,
            prompt=self.prompt,
            answer=self.response,
            skill=self.skill,
            subskill=self.subskill,
            metadata=self.metadata,
        )


class Skill(BaseModel):
    """A node of a domain's gold taxonomy: a skill and the names of its subskills."""

    name: str
    description: str = ""
    subskills: dict[str, str] = Field(
        default_factory=dict, description="subskill name -> description"
    )


class SkillStats(BaseModel):
    """Accuracy of the student on the instances of one skill (or subskill)."""

    count: int
    accuracy: float = Field(ge=0.0, le=1.0)
    partial: float = Field(ge=0.0, le=1.0)


class SkillReport(BaseModel):
    """Aggregate scores of one evaluation: overall, per skill and per ``skill/subskill``."""

    count: int
    accuracy: float = Field(ge=0.0, le=1.0)
    partial: float = Field(ge=0.0, le=1.0)
    per_skill: dict[str, SkillStats] = Field(default_factory=dict)
    per_subskill: dict[str, SkillStats] = Field(default_factory=dict)


class EvaluationResult(BaseModel):
    """Everything an evaluator returns: the scored instances and their report."""

    instances: list[EvaluatedInstance]
    report: SkillReport


def subskill_key(skill: str | None, subskill: str | None) -> str:
    """The ``skill/subskill`` key used in reports and allocations."""
    return f"{skill or 'unknown'}/{subskill or 'unknown'}"


# --------------------------------------------------------------------------- skill forest


class SubskillNode(BaseModel):
    """A subskill in the Skill-Tree state.

    Attributes:
        name: Subskill name, unique under its skill.
        description: What the subskill covers (given to engines).
        allocation: Training data generated for it each iteration (0 = pruned).
        data_accuracy: Student accuracy on a sample of the data generated for it, measured
            after training (``None`` before any data).
        val_accuracy: Student accuracy on validation items with this gold subskill, when the
            domain labels validation items with subskills (``None`` otherwise).
        val_partial: Partial credit on those items.
        history: ``val_accuracy`` (or ``data_accuracy`` where there is none) when the node
            was added and after each step since.
        partial_history: ``val_partial`` at the same moments (empty when unknown).
        total_data: Data trained on for this subskill so far.
    """

    name: str
    description: str = ""
    allocation: int = Field(default=0, ge=0)
    data_accuracy: float | None = None
    val_accuracy: float | None = None
    val_partial: float | None = None
    history: list[float] = Field(default_factory=list)
    partial_history: list[float] = Field(default_factory=list)
    total_data: int = 0


class SkillNode(BaseModel):
    """A top-level skill in the Skill-Tree state with its validation accuracy and subskills."""

    name: str
    description: str = ""
    accuracy: float = 0.0
    partial: float = 0.0
    history: list[float] = Field(default_factory=list)
    subskills: dict[str, SubskillNode] = Field(default_factory=dict)


class SkillForest(BaseModel):
    """The Skill-Tree environment's state: skill -> subskills, each with allocation and history."""

    skills: dict[str, SkillNode] = Field(default_factory=dict)

    def allocation_total(self) -> int:
        """Sum of the current allocations over all subskills."""
        return sum(s.allocation for node in self.skills.values() for s in node.subskills.values())


# --------------------------------------------------------------------------- observations


class ObservationBase(BaseModel):
    """Fields every environment's observation has."""

    iteration: int = Field(description="Iterations finished so far (0 right after reset).")
    budget_per_iteration: int
    budget_left: int = Field(description="Training data the agent may still generate.")
    val_accuracy: float
    val_partial: float
    reward_history: list[float] = Field(default_factory=list)


class OpenEndedObservation(ObservationBase):
    """Open-Ended state: every evaluated validation instance (errors and successes)."""

    kind: Literal["open_ended"] = "open_ended"
    evaluated: list[EvaluatedInstance]


class SkillState(BaseModel):
    """One skill's entry in the Skill-List state."""

    name: str
    description: str = ""
    subskills: list[str] = Field(default_factory=list)
    accuracy: float
    partial: float
    count: int
    history: list[float] = Field(default_factory=list)
    errors: list[EvaluatedInstance] = Field(default_factory=list)
    data_so_far: int = 0


class SkillListObservation(ObservationBase):
    """Skill-List state: per-skill validation accuracy and history, errors grouped by skill."""

    kind: Literal["skill_list"] = "skill_list"
    skills: dict[str, SkillState]


class SkillTreeObservation(ObservationBase):
    """Skill-Tree state: the skill forest plus, per skill, the subskills a teacher may add."""

    kind: Literal["skill_tree"] = "skill_tree"
    forest: SkillForest


Observation = OpenEndedObservation | SkillListObservation | SkillTreeObservation


# --------------------------------------------------------------------------- actions


class ActionBase(BaseModel):
    """Fields every action has: the training data the engine wrote for the plan."""

    data: list[TrainingDatum] = Field(default_factory=list)
    notes: str = Field(default="", description="Free text from the policy, kept in the run.")


class DataSpec(BaseModel):
    """A free-form request for data: what to write, how many, and an example to imitate."""

    description: str = ""
    count: int = Field(default=1, ge=0)
    skill: str | None = None
    subskill: str | None = None
    example_prompt: str | None = Field(default=None, description="An error to write more like.")
    example_answer: str | None = None


class OpenEndedAction(ActionBase):
    """Open-Ended action: any new training examples, with the specs that asked for them."""

    kind: Literal["open_ended"] = "open_ended"
    specs: list[DataSpec] = Field(default_factory=list)


class SkillRequest(BaseModel):
    """How much data to write for one skill, and what in it to target."""

    count: int = Field(ge=0)
    targets: list[str] = Field(
        default_factory=list,
        description="Subskills or free-text hypotheses of what the student lacks.",
    )


class SkillListAction(ActionBase):
    """Skill-List action: per skill, a data count and what to target."""

    kind: Literal["skill_list"] = "skill_list"
    requests: dict[str, SkillRequest] = Field(default_factory=dict)


class NewSubskill(BaseModel):
    """A subskill proposed by an explore action."""

    name: str = Field(min_length=1)
    description: str = ""
    allocation: int = Field(ge=0)


class SkillTreeAction(ActionBase):
    """Skill-Tree action: explore (add subskills) and/or exploit (re-allocate; 0 prunes).

    Attributes:
        explore: skill -> new subskills to add under it, each with an allocation.
        exploit: skill -> {existing subskill -> new allocation}.
    """

    kind: Literal["skill_tree"] = "skill_tree"
    explore: dict[str, list[NewSubskill]] = Field(default_factory=dict)
    exploit: dict[str, dict[str, int]] = Field(default_factory=dict)


Action = OpenEndedAction | SkillListAction | SkillTreeAction


class DroppedCounts(BaseModel):
    """Generated data the environment refused, by reason."""

    duplicate: int = 0
    contaminated: int = Field(default=0, description="Equal to a validation or test prompt.")
    failed_verification: int = 0

    @property
    def total(self) -> int:
        return self.duplicate + self.contaminated + self.failed_verification


class TrainStats(BaseModel):
    """What one training round did."""

    steps: int
    examples_seen: int
    final_loss: float
    seconds: float
