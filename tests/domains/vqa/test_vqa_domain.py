"""The VQA domain: balanced disjoint splits, exact scoring, a verifier that re-derives answers."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from dataenvgym.domains.vqa.domain import (
    VQAConfig,
    VQADomain,
    VQASpecError,
    datum_from_spec,
    normalize_answer,
    spec_json_schema,
)
from dataenvgym.domains.vqa.images import load_image, split_prompt
from dataenvgym.domains.vqa.scene import RGB, Scene
from dataenvgym.protocols import ProceduralDomain
from dataenvgym.types import TaskInstance

SPEC = {
    "scene": {
        "objects": [
            {"shape": "circle", "color": "red", "size": "large", "x": 12, "y": 12},
            {"shape": "triangle", "color": "blue", "size": "small", "x": 50, "y": 40},
        ],
        "background": [240, 235, 245],
    },
    "question": "Is the red circle left of the triangle?",
    "answer": "Yes",
}


@pytest.fixture(scope="module")
def domain() -> VQADomain:
    return VQADomain(VQAConfig(val_per_subskill=6, test_per_subskill=4))


def test_it_is_a_procedural_domain_with_six_skills(domain: VQADomain) -> None:
    assert isinstance(domain, ProceduralDomain)
    skills = {s.name: set(s.subskills) for s in domain.skills()}
    assert set(skills) == {"existence", "colour", "shape", "counting", "spatial", "comparison"}
    assert skills["spatial"] == {"horizontal", "vertical"}
    assert set(domain.pretraining_mix()) == {f"{s}/{u}" for s, subs in skills.items() for u in subs}


def test_splits_are_balanced_disjoint_and_seeded(domain: VQADomain) -> None:
    val, test = domain.splits(seed=0)
    assert Counter((i.skill, i.subskill) for i in val) == Counter(
        {key: 6 for key in {(i.skill, i.subskill) for i in val}}
    )
    assert len(val) == 14 * 6 and len(test) == 14 * 4
    assert not {i.prompt for i in val} & {i.prompt for i in test}
    assert [i.prompt for i in domain.splits(seed=0)[0]] == [i.prompt for i in val]
    assert [i.prompt for i in domain.splits(seed=1)[0]] != [i.prompt for i in val]
    # Every item's image is its scene, and the prompt names that scene.
    item = val[0]
    scene = Scene.model_validate(item.metadata["scene"])
    assert split_prompt(item.prompt)[0] == f"scene-{scene.key()}"
    obj = scene.objects[0]
    assert load_image(item.metadata).getpixel((obj.x, obj.y)) == RGB[obj.color]


def test_score_is_exact_with_partial_credit_for_close_counts(domain: VQADomain) -> None:
    def inst(answer: str) -> TaskInstance:
        return TaskInstance(id="x", domain="vqa", prompt="<image:a> q", answer=answer)

    assert domain.score(inst("yes"), " Yes.").correct
    assert domain.score(inst("3"), "three").correct
    assert not domain.score(inst("red"), "blue").correct
    assert domain.score(inst("red"), "blue").partial == 0.0
    close = domain.score(inst("4"), "3")
    assert not close.correct and close.partial == pytest.approx(0.75)
    assert normalize_answer("Grey!") == "gray"


def test_generated_data_verify_and_tampered_data_do_not(domain: VQADomain) -> None:
    data = domain.generate("counting", "by_shape", 5, random.Random(0))
    assert all(domain.verify(d) is None for d in data)
    datum = data[0]
    wrong = str((int(datum.response) + 1) % 5)
    assert "!=" in (domain.verify(datum.model_copy(update={"response": wrong})) or "")
    scene = dict(datum.metadata["scene"])
    scene["background"] = [241, 241, 241]
    moved = datum.model_copy(update={"metadata": {**datum.metadata, "scene": scene}})
    assert "image tag" in (domain.verify(moved) or "")
    assert "scene spec" in (domain.verify(datum.model_copy(update={"metadata": {}})) or "")
    with pytest.raises(KeyError, match="unknown VQA subskill"):
        domain.generate("counting", "integrals", 1, random.Random(0))


def test_an_llm_written_spec_becomes_a_verified_datum(domain: VQADomain) -> None:
    datum = datum_from_spec(json.dumps(SPEC))
    assert (datum.skill, datum.subskill, datum.response, datum.source) == (
        "spatial",
        "horizontal",
        "yes",
        "llm",
    )
    assert domain.verify(datum) is None
    assert split_prompt(datum.prompt)[1] == "is the red circle left of the triangle?"
    assert "scene" in json.loads(spec_json_schema())["properties"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answer": "no"}, "the scene says 'yes'"),
        ({"question": "what color is the hexagon?"}, "not a question of this domain"),
        ({"question": "is the circle left of the circle?"}, "same object"),
        (
            {
                "scene": {
                    "objects": [
                        {"shape": "circle", "color": "red", "size": "large", "x": 1, "y": 1}
                    ]
                }
            },
            "does not fit",
        ),
        ({"scene": "a red circle"}, "invalid VQA spec at scene"),
    ],
)
def test_wrong_specs_are_refused_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(VQASpecError, match=message):
        datum_from_spec({**SPEC, **change})


def test_an_unknown_mix_key_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="unknown subskills"):
        VQAConfig(pretraining_mix={"counting/integrals": 1.0})
