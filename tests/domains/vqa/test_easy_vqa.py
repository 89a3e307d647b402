"""easy-vqa from its pip package: question types, splits disjoint by image, exact scoring."""

from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("easy_vqa", reason="easy-vqa ships in the [vqa] extra")

from dataenvgym.domains.vqa.domain import VQADomain
from dataenvgym.domains.vqa.easy_vqa import (
    EasyVQAConfig,
    EasyVQADomain,
    load_easy_vqa,
    question_type,
)
from dataenvgym.domains.vqa.images import load_image, split_prompt
from dataenvgym.domains.vqa.scene import RGB


@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("what color is the shape?", "teal", ("colour", "query")),
        ("what is the blue shape?", "circle", ("shape", "query")),
        ("is there a red shape in the image?", "no", ("existence", "colour")),
        ("does the image contain a triangle?", "yes", ("existence", "shape")),
        ("is no gray shape present?", "yes", ("negation", "colour")),
        ("does the image not contain a circle?", "no", ("negation", "shape")),
    ],
)
def test_question_types(question: str, answer: str, kind: tuple[str, str]) -> None:
    assert question_type(question, answer) == kind


def test_the_package_data_loads_with_images() -> None:
    test = load_easy_vqa("test")
    assert len(test) > 9000
    assert len({i.metadata["image_id"] for i in test}) == 1000
    colour_items = [i for i in test if i.skill == "colour"][:20]
    for item in colour_items:
        image = load_image(item.metadata)
        assert image.size == (64, 64)
        # The answer's exact colour is in the picture: the labels are what the pixels say.
        assert RGB[item.answer] in {c for _, c in image.getcolors(64 * 64) or []}
    assert split_prompt(test[0].prompt)[0] == f"easy-vqa-test-{test[0].metadata['image_id']}"


def test_splits_are_balanced_and_disjoint_by_image() -> None:
    domain = EasyVQADomain(EasyVQAConfig(val_per_subskill=30, test_per_subskill=20))
    val, test = domain.splits(seed=0)
    assert set(Counter((i.skill, i.subskill) for i in val).values()) == {30}
    assert set(Counter((i.skill, i.subskill) for i in test).values()) == {20}
    assert not {i.metadata["image_id"] for i in val} & {i.metadata["image_id"] for i in test}
    assert domain.score(val[0], val[0].answer.upper()).correct
    assert {s.name for s in domain.skills()} == {"colour", "shape", "existence", "negation"}


def test_training_data_are_rendered_scenes_checked_like_the_built_in_domain() -> None:
    import random

    datum = VQADomain().generate("colour", "by_shape", 1, random.Random(0))[0]
    domain = EasyVQADomain()
    assert domain.verify(datum) is None
    assert domain.verify(datum.model_copy(update={"response": "no"})) is not None
