"""GSM8K (Cobbe et al., 2021): grade-school word problems whose answer is a number after ``####``.

GSM8K has no skill labels, so the gold taxonomy is one skill whose subskills are the number of
reasoning steps of the reference solution (one line per step): a difficulty axis the data
itself carries. LLM skill discovery can replace it with inferred skills. Validation is drawn
from train, balanced per subskill; the test split is GSM8K's test (1 319 problems).
"""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.math.answers import gsm8k_gold, gsm8k_prediction, parse_number
from dataenvgym.domains.math.hendrycks import balanced_sample
from dataenvgym.domains.math.loaders import Record, load_records, require_fields
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "gsm8k"
SKILL = "word_problems"
#: subskill -> (fewest steps, most steps) of the reference solution.
STEP_BUCKETS: dict[str, tuple[int, int]] = {
    "steps_1_2": (1, 2),
    "steps_3": (3, 3),
    "steps_4": (4, 4),
    "steps_5_plus": (5, 10_000),
}
STEP_DESCRIPTIONS = {
    "steps_1_2": "problems whose reference solution takes one or two steps",
    "steps_3": "problems whose reference solution takes three steps",
    "steps_4": "problems whose reference solution takes four steps",
    "steps_5_plus": "problems whose reference solution takes five steps or more",
}
DEFAULT_INSTRUCTION = "Solve step by step. End with the final number after '####'."


class GSM8KConfig(BaseModel):
    """Where GSM8K comes from and how the splits are drawn."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(default="openai/gsm8k", description="Hub name or a local folder.")
    subsets: list[str] = Field(default_factory=lambda: ["main"], description="Hub configs.")
    revision: str | None = None
    val_per_subskill: int = Field(default=50, ge=1, description="Validation items per subskill.")
    test_per_subskill: int | None = Field(
        default=None, ge=1, description="Test items per subskill (default: the whole test split)."
    )
    instruction: str = Field(default=DEFAULT_INSTRUCTION, description="Appended to each question.")


def reasoning_steps(solution: str) -> int:
    """Lines of the reference solution before its ``####`` answer."""
    body = solution.rpartition("####")[0]
    return max(1, sum(1 for line in body.splitlines() if line.strip()))


def step_subskill(steps: int) -> str:
    for name, (low, high) in STEP_BUCKETS.items():
        if low <= steps <= high:
            return name
    raise ValueError(f"no bucket for {steps} steps")


class GSM8KDomain:
    """GSM8K as a :class:`~dataenvgym.protocols.Domain` (no generators)."""

    name = NAME

    def __init__(self, config: GSM8KConfig | None = None) -> None:
        self.config = config or GSM8KConfig()

    def prompt(self, question: str) -> str:
        """The prompt of a question, as the student sees it and training data must use it."""
        return f"{question.strip()}\n\n{self.config.instruction}"

    def _load(self, split: str) -> list[TaskInstance]:
        cfg = self.config
        records = load_records(cfg.dataset, split, subsets=cfg.subsets, revision=cfg.revision)
        require_fields(records, ("question", "answer"), f"{cfg.dataset}:{split}")
        instances = [self._instance(record, split, i) for i, record in enumerate(records)]
        if not instances:
            raise ConfigError(f"{cfg.dataset}:{split} has no GSM8K problems")
        return instances

    def _instance(self, record: Record, split: str, index: int) -> TaskInstance:
        solution = str(record["answer"])
        try:
            answer = gsm8k_gold(solution)
        except ValueError as err:
            raise ConfigError(f"record {index} of {self.config.dataset}:{split}: {err}") from err
        steps = reasoning_steps(solution)
        return TaskInstance(
            id=f"gsm8k-{split}-{index:05d}",
            domain=NAME,
            prompt=self.prompt(str(record["question"])),
            answer=answer,
            skill=SKILL,
            subskill=step_subskill(steps),
            metadata={"solution": solution, "steps": steps},
        )

    @cached_property
    def train_instances(self) -> list[TaskInstance]:
        return self._load("train")

    @cached_property
    def test_instances(self) -> list[TaskInstance]:
        return self._load("test")

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=SKILL,
                description="multi-step arithmetic word problems (GSM8K)",
                subskills=dict(STEP_DESCRIPTIONS),
            )
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Validation balanced per subskill from train; test from test. Disjoint."""
        test = self.test_instances
        if self.config.test_per_subskill is not None:
            test = balanced_sample(test, self.config.test_per_subskill, f"test:{seed}")
        test_prompts = {inst.prompt for inst in test}
        pool = [inst for inst in self.train_instances if inst.prompt not in test_prompts]
        return balanced_sample(pool, self.config.val_per_subskill, f"val:{seed}"), test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        gold = parse_number(instance.answer)
        if gold is None:
            raise ValueError(f"instance {instance.id} has a non-numeric answer {instance.answer!r}")
        correct = gsm8k_prediction(prediction) == gold
        return Score(correct=correct, partial=1.0 if correct else 0.0)

    def verify(self, datum: TrainingDatum) -> str | None:
        """A generated solution must end with ``#### <number>``."""
        try:
            gsm8k_gold(datum.response)
        except ValueError as err:
            return str(err)
        return None
