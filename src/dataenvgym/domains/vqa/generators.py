"""Procedural generators: one per subskill, each drawing a scene and a well-posed question.

A generator builds a scene whose objects make its question interesting (a shape that occurs
once, two objects that share a colour, ...), asks the question, and keeps the pair only if
the question is well posed for the scene. Yes/no subskills draw the wanted answer first so
that they are balanced (chance is 50 %); counting draws the wanted count first. The answer
is always computed from the scene by :mod:`.questions`, never written by the generator.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from dataenvgym.domains.vqa.questions import (
    CompareCount,
    CompareSize,
    Count,
    Exist,
    IllPosedQuestion,
    Query,
    Question,
    Ref,
    Relate,
    SameColor,
    classify,
)
from dataenvgym.domains.vqa.scene import COLORS, SHAPES, Scene, SceneObject, random_scene

MAX_LARGE = 3  # at most this many large objects: they always fit on the canvas


@dataclass(frozen=True)
class Problem:
    """A generated item: the scene, the question and its (computed) answer."""

    scene: Scene
    question: Question
    answer: str


Proposal = tuple[Scene, Question]
Proposer = Callable[[random.Random, str | None], Proposal]


def _objects(rng: random.Random, n: int, **fixed: str) -> list[SceneObject]:
    objs: list[SceneObject] = []
    for _ in range(n):
        size = fixed.get("size")
        if size is None and sum(o.size == "large" for o in objs) >= MAX_LARGE:
            size = "small"
        objs.append(_object(rng, fixed.get("shape"), fixed.get("color"), size))
    return objs


def _object(
    rng: random.Random, shape: str | None, color: str | None, size: str | None
) -> SceneObject:
    return SceneObject(
        shape=shape or rng.choice(SHAPES),  # type: ignore[arg-type]
        color=color or rng.choice(COLORS),  # type: ignore[arg-type]
        size=size or rng.choice(("small", "large")),  # type: ignore[arg-type]
        x=32,
        y=32,
    )


def _scene(rng: random.Random, objs: list[SceneObject]) -> Scene:
    rng.shuffle(objs)
    return random_scene(rng, objs)


_REF_FORMS: tuple[tuple[str, ...], ...] = (
    ("shape",),
    ("color",),
    ("color", "shape"),
    ("size", "shape"),
    ("size", "color"),
    ("size", "color", "shape"),
)


def _ref_of(obj: SceneObject, attributes: tuple[str, ...]) -> Ref:
    return Ref(**{a: getattr(obj, a) for a in attributes})


def unique_refs(obj: SceneObject, scene: Scene, *, without: str | None = None) -> list[Ref]:
    """Every reference form that names ``obj`` alone in ``scene`` (not using ``without``)."""
    refs = [_ref_of(obj, form) for form in _REF_FORMS if without not in form]
    return [ref for ref in refs if ref.select(scene) == [obj]]


def _yes_no(rng: random.Random, target: str | None) -> str:
    return target or rng.choice(("yes", "no"))


# --------------------------------------------------------------------------- proposers


def exist_shape(rng: random.Random, target: str | None) -> Proposal:
    scene = _scene(rng, _objects(rng, rng.randint(1, 3)))
    return scene, Exist(Ref(shape=rng.choice(SHAPES)))


def exist_attributes(rng: random.Random, target: str | None) -> Proposal:
    scene = _scene(rng, _objects(rng, rng.randint(2, 4)))
    obj = rng.choice(scene.objects)
    form = rng.choice((("color", "shape"), ("color", "shape"), ("size", "shape")))
    ref = _ref_of(obj, form)
    if _yes_no(rng, target) == "no":
        # A near miss: change one attribute, so the answer hinges on the combination.
        attribute = rng.choice(form)
        values = {"color": COLORS, "shape": SHAPES, "size": ("small", "large")}[attribute]
        other = rng.choice([v for v in values if v != getattr(ref, attribute)])
        ref = Ref(**{**{a: getattr(ref, a) for a in form}, attribute: other})
    return scene, Exist(ref)


def _query(attribute: str, by: str) -> Proposer:
    """Ask the colour or shape of an object named by a reference that needs ``by``."""

    def propose(rng: random.Random, target: str | None) -> Proposal:
        objs = _objects(rng, rng.randint(2, 4))
        if by == "size":
            # Two objects alike but for size, so the reference has to use it.
            first = objs[0]
            objs[1] = first.model_copy(
                update={"size": "small" if first.size == "large" else "large"}
            )
            objs[1] = objs[1].model_copy(update={attribute: rng.choice(_values(attribute))})
        scene = _scene(rng, objs)
        obj = rng.choice(scene.objects)
        refs = [r for r in unique_refs(obj, scene, without=attribute) if by in r.attributes]
        if by == "size":
            refs = [r for r in refs if len(Ref(color=r.color, shape=r.shape).select(scene)) > 1]
        else:
            refs = [r for r in refs if "size" not in r.attributes]
        if not refs:
            raise IllPosedQuestion("no reference of that form")
        return scene, Query(attribute, rng.choice(refs))  # type: ignore[arg-type]

    return propose


def _values(attribute: str) -> tuple[str, ...]:
    return COLORS if attribute == "color" else SHAPES


def _count(form: str) -> Proposer:
    def propose(rng: random.Random, target: str | None) -> Proposal:
        if form == "all":
            n = rng.randint(1, 5)
            return _scene(rng, _objects(rng, n)), Count(Ref())
        wanted = rng.randint(0, 4)
        if form == "by_shape":
            ref = Ref(shape=rng.choice(SHAPES))
        else:
            color = rng.choice(COLORS)
            ref = (
                Ref(color=color, shape=rng.choice(SHAPES))
                if rng.random() < 0.3
                else Ref(color=color)
            )
        matching = _objects(rng, wanted, **{k: v for k, v in vars(ref).items() if v})
        others = [o for o in _objects(rng, rng.randint(0, 5 - wanted)) if not ref.matches(o)]
        return _scene(rng, matching + others), Count(ref)

    return propose


def _pair(rng: random.Random, scene: Scene, without: str | None = None) -> tuple[Ref, Ref]:
    a, b = rng.sample(list(scene.objects), 2)
    refs_a, refs_b = unique_refs(a, scene, without=without), unique_refs(b, scene, without=without)
    if not refs_a or not refs_b:
        raise IllPosedQuestion("an object has no unique reference")
    return rng.choice(refs_a), rng.choice(refs_b)


def _relate(axis: str) -> Proposer:
    relations = ("left of", "right of") if axis == "horizontal" else ("above", "below")

    def propose(rng: random.Random, target: str | None) -> Proposal:
        scene = _scene(rng, _objects(rng, rng.randint(2, 4)))
        first, second = _pair(rng, scene)
        return scene, Relate(first, rng.choice(relations), second)  # type: ignore[arg-type]

    return propose


def compare_size(rng: random.Random, target: str | None) -> Proposal:
    scene = _scene(rng, _objects(rng, rng.randint(2, 4)))
    first, second = _pair(rng, scene, without="size")
    return scene, CompareSize(first, rng.choice(("larger", "smaller")), second)


def compare_count(rng: random.Random, target: str | None) -> Proposal:
    attribute = rng.choice(("shape", "color"))
    a, b = rng.sample(_values(attribute), 2)
    na, nb = rng.randint(0, 3), rng.randint(0, 3)
    objs = _objects(rng, na, **{attribute: a}) + _objects(rng, nb, **{attribute: b})
    if not objs:
        objs = _objects(rng, 1)
    return _scene(rng, objs), CompareCount(Ref(**{attribute: a}), Ref(**{attribute: b}))


def same_color(rng: random.Random, target: str | None) -> Proposal:
    objs = _objects(rng, rng.randint(2, 4))
    if _yes_no(rng, target) == "yes":
        objs[1] = objs[1].model_copy(update={"color": objs[0].color})
    scene = _scene(rng, objs)
    first, second = _pair(rng, scene, without="color")
    return scene, SameColor(first, second)


#: skill -> subskill -> (description, proposer, answer kind)
CATALOGUE: dict[str, dict[str, tuple[str, Proposer, str]]] = {
    "existence": {
        "shape": ("is there a shape of a given kind", exist_shape, "yes/no"),
        "attributes": (
            "is there an object with a colour (or size) and a shape",
            exist_attributes,
            "yes/no",
        ),
    },
    "colour": {
        "by_shape": (
            "the colour of an object named by its shape",
            _query("color", "shape"),
            "open",
        ),
        "by_size": (
            "the colour of an object that only its size singles out",
            _query("color", "size"),
            "open",
        ),
    },
    "shape": {
        "by_colour": (
            "the shape of an object named by its colour",
            _query("shape", "color"),
            "open",
        ),
        "by_size": (
            "the shape of an object that only its size singles out",
            _query("shape", "size"),
            "open",
        ),
    },
    "counting": {
        "all": ("how many objects the image holds", _count("all"), "open"),
        "by_shape": ("how many objects of a given shape", _count("by_shape"), "open"),
        "by_colour": ("how many objects of a given colour", _count("by_colour"), "open"),
    },
    "spatial": {
        "horizontal": (
            "whether one object is left or right of another",
            _relate("horizontal"),
            "yes/no",
        ),
        "vertical": ("whether one object is above or below another", _relate("vertical"), "yes/no"),
    },
    "comparison": {
        "size": ("whether one object is larger or smaller than another", compare_size, "yes/no"),
        "count": (
            "whether there are more objects of one kind than of another",
            compare_count,
            "yes/no",
        ),
        "colour": ("whether two objects have the same colour", same_color, "yes/no"),
    },
}


def generate(skill: str, subskill: str, rng: random.Random, *, max_tries: int = 200) -> Problem:
    """One well-posed problem of ``skill/subskill``; yes/no answers come out balanced."""
    _, propose, kind = CATALOGUE[skill][subskill]
    target = rng.choice(("yes", "no")) if kind == "yes/no" else None
    for _ in range(max_tries):
        try:
            scene, question = propose(rng, target)
            value = question.answer(scene)
        except IllPosedQuestion:
            continue
        except ValueError:  # objects that did not fit: draw again
            continue
        if classify(question) != (skill, subskill):
            continue  # e.g. a reference that happened to use an attribute of another form
        if target is None or value == target:
            return Problem(scene, question, value)
    raise RuntimeError(f"{skill}/{subskill}: no well-posed problem in {max_tries} tries")
