"""The built-in VQA domain: rendered scenes, question families as skills, an exact verifier.

Skills are question families (existence, colour, shape, counting, spatial relations,
comparison), each with subskills that differ in what the question needs (a shape alone, a
size that singles an object out, a count of one colour, ...). The base student's
pretraining mix makes its skills uneven on purpose, as in the arithmetic domain.

The same verifier serves procedural data and LLM-written data: :func:`datum_from_spec`
turns a JSON scene spec + question + answer into a datum, and :meth:`VQADomain.verify`
checks that the scene is drawable, the question is in the grammar and well posed, and the
answer is what the scene says.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from dataenvgym.domains.vqa import generators as g
from dataenvgym.domains.vqa.images import make_prompt, split_prompt
from dataenvgym.domains.vqa.questions import (
    ANSWERS,
    IllPosedQuestion,
    classify,
    normalize_text,
    parse_question,
)
from dataenvgym.domains.vqa.scene import Scene
from dataenvgym.errors import DataEnvGymError, first_validation_error
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum, subskill_key

NAME = "vqa"

SKILL_DESCRIPTIONS = {
    "existence": "whether the image holds an object of a kind",
    "colour": "naming an object's colour",
    "shape": "naming an object's shape",
    "counting": "counting objects",
    "spatial": "spatial relations between two objects",
    "comparison": "comparing two objects or two groups",
}

#: Heavy on what the base student should master, light on the learnable subskills, a
#: sliver of what should stay out of reach (so the answer words are known, not the skill).
DEFAULT_PRETRAINING_MIX: dict[str, float] = {
    "existence/shape": 0.16,
    "existence/attributes": 0.03,
    "colour/by_shape": 0.16,
    "colour/by_size": 0.03,
    "shape/by_colour": 0.16,
    "shape/by_size": 0.03,
    "counting/all": 0.14,
    "counting/by_shape": 0.03,
    "counting/by_colour": 0.03,
    "spatial/horizontal": 0.03,
    "spatial/vertical": 0.03,
    "comparison/size": 0.05,
    "comparison/count": 0.05,
    "comparison/colour": 0.05,
}


class VQAConfig(BaseModel):
    """Sizes of the VQA splits and the base student's mix."""

    val_per_subskill: int = Field(default=400, ge=1, description="Validation items per subskill.")
    test_per_subskill: int = Field(default=400, ge=1, description="Test items per subskill.")
    pretraining_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_PRETRAINING_MIX))

    @field_validator("pretraining_mix")
    @classmethod
    def _known_subskills(cls, mix: dict[str, float]) -> dict[str, float]:
        known = {subskill_key(s, u) for s, subs in g.CATALOGUE.items() for u in subs}
        unknown = sorted(set(mix) - known)
        if unknown:
            raise ValueError(f"unknown subskills {unknown}; known: {sorted(known)}")
        return mix


class VQASpec(BaseModel):
    """What an LLM engine writes for one VQA datum: a scene, a question and its answer.

    The JSON schema of this model is what to put in the LLM's structured-output request.
    """

    scene: Scene
    question: str = Field(description="A question in the domain's grammar.")
    answer: str = Field(description="One of the answer vocabulary's words.")


class VQASpecError(DataEnvGymError, ValueError):
    """A written VQA spec is malformed, ill posed or answered wrongly."""


_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, number words as digits, US spelling ("gray")."""
    word = re.sub(r"[^a-z0-9 ]", "", normalize_text(text)).strip()
    return _NUMBER_WORDS.get(word, word)


def datum_id(prompt: str, response: str) -> str:
    return hashlib.sha1(f"{prompt}\x00{response}".encode()).hexdigest()[:16]


def _item(scene: Scene, question: str) -> tuple[str, dict[str, Any]]:
    prompt = make_prompt(f"scene-{scene.key()}", question)
    return prompt, {"scene": scene.model_dump(mode="json"), "question": question}


def datum_from_spec(
    spec: VQASpec | dict[str, Any] | str,
    *,
    source: str = "llm",
    skill: str | None = None,
    subskill: str | None = None,
) -> TrainingDatum:
    """Turn a written scene spec + question + answer into a verified training datum.

    ``skill``/``subskill`` default to the question's family as :func:`classify` reads it.

    Raises:
        VQASpecError: naming what is wrong (bad JSON, undrawable scene, a question outside
            the grammar or ill posed for the scene, or a wrong answer).
    """
    try:
        parsed = (
            VQASpec.model_validate_json(spec)
            if isinstance(spec, str)
            else VQASpec.model_validate(spec)
        )
    except ValidationError as err:
        where = first_validation_error(err, "spec")
        raise VQASpecError(f"invalid VQA spec at {where}") from err
    try:
        question = parse_question(parsed.question)
        truth = question.answer(parsed.scene)
    except IllPosedQuestion as err:
        raise VQASpecError(str(err)) from err
    given = normalize_answer(parsed.answer)
    if given != truth:
        raise VQASpecError(
            f"answer {parsed.answer!r} is wrong for {parsed.question!r}: the scene says {truth!r}"
        )
    family = classify(question)
    prompt, metadata = _item(parsed.scene, question.text())
    return TrainingDatum(
        id=datum_id(prompt, truth),
        domain=NAME,
        prompt=prompt,
        response=truth,
        skill=skill or family[0],
        subskill=subskill or family[1],
        source=source,  # type: ignore[arg-type]
        metadata=metadata,
    )


class VQADomain:
    """Built-in VQA over rendered scenes: 6 skills, 14 subskills, exact match."""

    name = NAME
    #: Bumped when a change to the generators, splits or scorer makes earlier runs
    #: incomparable; kept in every run summary, and a leaderboard never mixes versions.
    version = "2"  # 2: 400-item splits (test-split noise was up to 2x the gaps' seed variance)

    def __init__(self, config: VQAConfig | None = None) -> None:
        self.config = config or VQAConfig()

    def skills(self) -> list[Skill]:
        return [
            Skill(
                name=skill,
                description=SKILL_DESCRIPTIONS[skill],
                subskills={sub: desc for sub, (desc, _, _) in subs.items()},
            )
            for skill, subs in g.CATALOGUE.items()
        ]

    def answers(self) -> tuple[str, ...]:
        """The fixed answer vocabulary."""
        return ANSWERS

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Balanced per subskill (and per answer for yes/no), disjoint by prompt."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        n_val, n_test = self.config.val_per_subskill, self.config.test_per_subskill
        for skill, subs in g.CATALOGUE.items():
            for subskill in subs:
                rng = random.Random(f"splits:{seed}:{skill}/{subskill}")
                seen: dict[str, tuple[str, dict[str, Any]]] = {}
                while len(seen) < n_val + n_test:
                    problem = g.generate(skill, subskill, rng)
                    prompt, metadata = _item(problem.scene, problem.question.text())
                    seen.setdefault(prompt, (problem.answer, metadata))
                for index, (prompt, (answer, metadata)) in enumerate(seen.items()):
                    split, target = ("val", val) if index < n_val else ("test", test)
                    target.append(
                        TaskInstance(
                            id=f"{split}-{skill}-{subskill}-{index:04d}",
                            domain=NAME,
                            prompt=prompt,
                            answer=answer,
                            skill=skill,
                            subskill=subskill,
                            metadata=metadata,
                        )
                    )
        return val, test

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        """Exact match after normalisation; counts earn partial credit for being close."""
        gold, guess = normalize_answer(instance.answer), normalize_answer(prediction)
        if gold == guess:
            return Score(correct=True, partial=1.0)
        if gold.isdigit() and guess.isdigit():
            return Score(
                correct=False, partial=max(0.0, 1 - abs(int(gold) - int(guess)) / max(int(gold), 1))
            )
        return Score(correct=False, partial=0.0)

    def verify(self, datum: TrainingDatum) -> str | None:
        """Re-derive the answer from the datum's scene; ``None`` when the datum is right."""
        scene_data = datum.metadata.get("scene")
        if scene_data is None:
            return "a VQA datum needs its scene spec in metadata['scene']"
        try:
            scene = Scene.model_validate(scene_data)
        except ValidationError as err:
            return f"undrawable scene: {err.errors()[0]['msg']}"
        tag, question_text = split_prompt(datum.prompt)
        if tag != f"scene-{scene.key()}":
            return f"the prompt's image tag {tag!r} is not the scene's (scene-{scene.key()})"
        try:
            truth = parse_question(question_text).answer(scene)
        except IllPosedQuestion as err:
            return str(err)
        if datum.response != truth:
            return f"response {datum.response!r} != {truth!r} for {question_text!r}"
        return None

    def generate(
        self, skill: str, subskill: str, count: int, rng: random.Random
    ) -> list[TrainingDatum]:
        if subskill not in g.CATALOGUE.get(skill, {}):
            known = ", ".join(subskill_key(s, u) for s, subs in g.CATALOGUE.items() for u in subs)
            raise KeyError(f"unknown VQA subskill {skill}/{subskill}; known: {known}")
        data = []
        for _ in range(count):
            problem = g.generate(skill, subskill, rng)
            prompt, metadata = _item(problem.scene, problem.question.text())
            data.append(
                TrainingDatum(
                    id=datum_id(prompt, problem.answer),
                    domain=NAME,
                    prompt=prompt,
                    response=problem.answer,
                    skill=skill,
                    subskill=subskill,
                    source="procedural",
                    metadata=metadata,
                )
            )
        return data

    def pretraining_mix(self) -> dict[str, float]:
        return dict(self.config.pretraining_mix)


def spec_json_schema() -> str:
    """The JSON schema an LLM engine asks for (one :class:`VQASpec`)."""
    return json.dumps(VQASpec.model_json_schema(), indent=2)
