"""The question grammar: text round-trips, answers come from the scene, ill-posed is refused."""

from __future__ import annotations

import random

import pytest

from dataenvgym.domains.vqa import generators as g
from dataenvgym.domains.vqa.questions import (
    ANSWERS,
    CompareCount,
    Count,
    Exist,
    IllPosedQuestion,
    Query,
    Ref,
    Relate,
    SameColor,
    classify,
    parse_question,
)
from dataenvgym.domains.vqa.scene import Scene, SceneObject


def _obj(shape: str, color: str, size: str, x: int, y: int) -> SceneObject:
    return SceneObject(shape=shape, color=color, size=size, x=x, y=y)  # type: ignore[arg-type]


SCENE = Scene(
    objects=(
        _obj("circle", "red", "large", 12, 12),
        _obj("circle", "blue", "small", 50, 12),
        _obj("triangle", "red", "small", 12, 50),
        _obj("rectangle", "green", "large", 45, 48),
    )
)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("what color is the triangle?", "red"),
        ("what color is the small circle?", "blue"),
        ("What shape is the green shape?", "rectangle"),
        ("what shape is the large red shape", "circle"),
        ("how many shapes are there?", "4"),
        ("how many circles are there?", "2"),
        ("how many red shapes are there?", "2"),
        ("how many yellow shapes are there?", "0"),
        ("is there a triangle?", "yes"),
        ("is there a green circle?", "no"),
        ("is the blue circle right of the triangle?", "yes"),
        ("is the red circle above the triangle?", "yes"),
        ("is the rectangle below the blue shape?", "yes"),
        ("is the triangle left of the rectangle?", "yes"),
        ("is the triangle larger than the rectangle?", "no"),
        ("is the blue circle smaller than the rectangle?", "yes"),
        ("are there more circles than triangles?", "yes"),
        ("are there more green shapes than red shapes?", "no"),
        ("do the large circle and the triangle have the same colour?", "yes"),
        ("do the small circle and the rectangle have the same color?", "no"),
    ],
)
def test_questions_are_answered_from_the_scene(text: str, answer: str) -> None:
    assert parse_question(text).answer(SCENE) == answer


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("what color is the circle?", "matches 2 objects"),  # two circles
        ("what color is the red triangle?", "names the color"),
        ("is the red circle left of the triangle?", "apart"),  # same column
        ("do the circle and the circle have the same color?", "2 objects"),
        ("why is the sky blue?", "not a question of this domain"),
        ("what color is the hexagon?", "not a question of this domain"),
    ],
)
def test_ill_posed_or_foreign_questions_are_refused(text: str, reason: str) -> None:
    with pytest.raises(IllPosedQuestion, match=reason):
        parse_question(text).answer(SCENE)


def test_every_generated_question_round_trips_through_text() -> None:
    rng = random.Random(3)
    for skill, subs in g.CATALOGUE.items():
        for subskill in subs:
            for _ in range(20):
                problem = g.generate(skill, subskill, rng)
                parsed = parse_question(problem.question.text())
                assert parsed == problem.question
                assert classify(parsed) == (skill, subskill)
                assert parsed.answer(problem.scene) == problem.answer
                assert problem.answer in ANSWERS


def test_yes_no_subskills_are_balanced_and_counts_spread() -> None:
    rng = random.Random(5)
    answers = [g.generate("spatial", "horizontal", rng).answer for _ in range(200)]
    assert 70 <= answers.count("yes") <= 130
    counts = {g.generate("counting", "by_colour", rng).answer for _ in range(100)}
    assert counts == {"0", "1", "2", "3", "4"}


def test_classify_reads_the_form_of_the_question() -> None:
    assert classify(Exist(Ref(shape="circle"))) == ("existence", "shape")
    assert classify(Exist(Ref(color="red", shape="circle"))) == ("existence", "attributes")
    assert classify(Query("color", Ref(size="small", shape="circle"))) == ("colour", "by_size")
    assert classify(Count(Ref())) == ("counting", "all")
    assert classify(Relate(Ref(shape="circle"), "below", Ref(color="red"))) == (
        "spatial",
        "vertical",
    )
    assert classify(CompareCount(Ref(shape="circle"), Ref(shape="triangle"))) == (
        "comparison",
        "count",
    )
    assert classify(SameColor(Ref(shape="circle"), Ref(shape="triangle"))) == (
        "comparison",
        "colour",
    )
