"""The question language: a small grammar that is rendered to text, parsed back and answered.

Every question refers to objects through a *reference* such as ``circle``, ``red shape`` or
``small blue triangle``. A question is answered from the scene spec alone, and only when it
is well posed: a singular reference ("the red circle") must pick out exactly one object, and
a spatial relation must hold with a clear margin. Parsing and answering make the verifier
the generators and any LLM-written question share: a datum is right when its question
parses, is well posed for its scene, and its answer is what the scene says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dataenvgym.domains.vqa.scene import COLORS, SHAPES, SIZES, Scene, SceneObject

#: Centres closer than this on the asked axis make "left of"/"above" ambiguous: ill posed.
SPATIAL_MARGIN = 6
NUMBERS = tuple(str(n) for n in range(6))
#: The fixed answer vocabulary: every answer of the domain is one of these.
ANSWERS: tuple[str, ...] = ("yes", "no", *COLORS, *SHAPES, *NUMBERS)

Relation = Literal["left of", "right of", "above", "below"]
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")


class IllPosedQuestion(ValueError):
    """The question does not parse, or has no single true answer for this scene."""


@dataclass(frozen=True)
class Ref:
    """A description of objects: any of size, colour and shape (none = every object)."""

    size: str | None = None
    color: str | None = None
    shape: str | None = None

    def matches(self, obj: SceneObject) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.size, obj.size),
                (self.color, obj.color),
                (self.shape, obj.shape),
            )
        )

    def select(self, scene: Scene) -> list[SceneObject]:
        return [o for o in scene.objects if self.matches(o)]

    def the(self, scene: Scene) -> SceneObject:
        """The one object this reference names; ill posed unless there is exactly one."""
        found = self.select(scene)
        if len(found) != 1:
            raise IllPosedQuestion(f"'the {self.text()}' matches {len(found)} objects, not 1")
        return found[0]

    def text(self) -> str:
        return " ".join(w for w in (self.size, self.color, self.shape or "shape") if w)

    def plural(self) -> str:
        return f"{self.text()}s"

    @property
    def attributes(self) -> frozenset[str]:
        return frozenset(
            name for name in ("size", "color", "shape") if getattr(self, name) is not None
        )


@dataclass(frozen=True)
class Query:
    """What colour / shape is the object?"""

    attribute: Literal["color", "shape"]
    ref: Ref

    def text(self) -> str:
        return f"what {self.attribute} is the {self.ref.text()}?"

    def answer(self, scene: Scene) -> str:
        if self.attribute in self.ref.attributes:
            raise IllPosedQuestion(f"the question names the {self.attribute} it asks for")
        return str(getattr(self.ref.the(scene), self.attribute))


@dataclass(frozen=True)
class Count:
    ref: Ref

    def text(self) -> str:
        return f"how many {self.ref.plural()} are there?"

    def answer(self, scene: Scene) -> str:
        return str(len(self.ref.select(scene)))


@dataclass(frozen=True)
class Exist:
    ref: Ref

    def text(self) -> str:
        return f"is there a {self.ref.text()}?"

    def answer(self, scene: Scene) -> str:
        return _yes(bool(self.ref.select(scene)))


@dataclass(frozen=True)
class Relate:
    """Is the first object left of / right of / above / below the second?"""

    first: Ref
    relation: Relation
    second: Ref

    def text(self) -> str:
        return f"is the {self.first.text()} {self.relation} the {self.second.text()}?"

    def answer(self, scene: Scene) -> str:
        a, b = self.first.the(scene), self.second.the(scene)
        if a == b:
            raise IllPosedQuestion("both references name the same object")
        horizontal = self.relation in ("left of", "right of")
        delta = (b.x - a.x) if horizontal else (b.y - a.y)  # > 0: a is left of / above b
        if abs(delta) < SPATIAL_MARGIN:
            raise IllPosedQuestion(f"the centres are only {abs(delta)}px apart on that axis")
        return _yes((delta > 0) == (self.relation in ("left of", "above")))


@dataclass(frozen=True)
class CompareSize:
    first: Ref
    relation: Literal["larger", "smaller"]
    second: Ref

    def text(self) -> str:
        return f"is the {self.first.text()} {self.relation} than the {self.second.text()}?"

    def answer(self, scene: Scene) -> str:
        a, b = self.first.the(scene), self.second.the(scene)
        if a == b:
            raise IllPosedQuestion("both references name the same object")
        bigger, smaller = (a, b) if self.relation == "larger" else (b, a)
        return _yes(bigger.size == "large" and smaller.size == "small")


@dataclass(frozen=True)
class CompareCount:
    first: Ref
    second: Ref

    def text(self) -> str:
        return f"are there more {self.first.plural()} than {self.second.plural()}?"

    def answer(self, scene: Scene) -> str:
        if self.first == self.second:
            raise IllPosedQuestion("both sides of the comparison are the same")
        return _yes(len(self.first.select(scene)) > len(self.second.select(scene)))


@dataclass(frozen=True)
class SameColor:
    first: Ref
    second: Ref

    def text(self) -> str:
        return f"do the {self.first.text()} and the {self.second.text()} have the same color?"

    def answer(self, scene: Scene) -> str:
        a, b = self.first.the(scene), self.second.the(scene)
        if a == b:
            raise IllPosedQuestion("both references name the same object")
        return _yes(a.color == b.color)


Question = Query | Count | Exist | Relate | CompareSize | CompareCount | SameColor


def _yes(value: bool) -> str:
    return "yes" if value else "no"


# --------------------------------------------------------------------------- parsing


def _alt(words: tuple[str, ...]) -> str:
    return "|".join(words)


_REF = rf"(?:({_alt(SIZES)}) )?(?:({_alt(COLORS)}) )?({_alt(SHAPES)}|shape)"
_REFS = rf"(?:({_alt(SIZES)}) )?(?:({_alt(COLORS)}) )?({_alt(SHAPES)}|shape)s"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("query", re.compile(rf"what (color|shape) is the {_REF}")),
    ("count", re.compile(rf"how many {_REFS} are there")),
    ("exist", re.compile(rf"is there an? {_REF}")),
    ("relate", re.compile(rf"is the {_REF} ({_alt(RELATIONS)}) the {_REF}")),
    ("size", re.compile(rf"is the {_REF} (larger|smaller) than the {_REF}")),
    ("more", re.compile(rf"are there more {_REFS} than {_REFS}")),
    ("same", re.compile(rf"do the {_REF} and the {_REF} have the same color")),
]


def normalize_text(text: str) -> str:
    """Lower case, single spaces, no trailing punctuation; "colour" and "grey" spelled US."""
    text = re.sub(r"\s+", " ", text.strip().lower()).rstrip("?.! ")
    return text.replace("colour", "color").replace("grey", "gray")


def _ref(groups: tuple[str | None, ...]) -> Ref:
    size, color, shape = groups
    return Ref(size=size, color=color, shape=None if shape == "shape" else shape)


def parse_question(text: str) -> Question:
    """Parse question text produced by :func:`Question.text` (or written to match it).

    Raises:
        IllPosedQuestion: if the text is not a sentence of the grammar.
    """
    body = normalize_text(text)
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(body)
        if m is None:
            continue
        g = m.groups()
        if kind == "query":
            return Query(g[0], _ref(g[1:4]))  # type: ignore[arg-type]
        if kind == "count":
            return Count(_ref(g[0:3]))
        if kind == "exist":
            return Exist(_ref(g[0:3]))
        if kind == "relate":
            return Relate(_ref(g[0:3]), g[3], _ref(g[4:7]))  # type: ignore[arg-type]
        if kind == "size":
            return CompareSize(_ref(g[0:3]), g[3], _ref(g[4:7]))  # type: ignore[arg-type]
        if kind == "more":
            return CompareCount(_ref(g[0:3]), _ref(g[3:6]))
        return SameColor(_ref(g[0:3]), _ref(g[3:6]))
    raise IllPosedQuestion(
        f"{text!r} is not a question of this domain; see dataenvgym.domains.vqa.questions "
        "for the grammar (e.g. 'what color is the small circle?', 'how many red shapes are "
        "there?', 'is the blue triangle left of the circle?')"
    )


def answer(question: Question, scene: Scene) -> str:
    """The one true answer of ``question`` for ``scene``; raises :class:`IllPosedQuestion`."""
    return question.answer(scene)


def classify(question: Question) -> tuple[str, str]:
    """The (skill, subskill) a question exercises, by its form."""
    if isinstance(question, Exist):
        return "existence", "shape" if question.ref.attributes <= {"shape"} else "attributes"
    if isinstance(question, Query):
        by = "by_size" if "size" in question.ref.attributes else None
        if question.attribute == "color":
            return "colour", by or "by_shape"
        return "shape", by or "by_colour"
    if isinstance(question, Count):
        attrs = question.ref.attributes
        if not attrs:
            return "counting", "all"
        return "counting", "by_colour" if "color" in attrs else "by_shape"
    if isinstance(question, Relate):
        horizontal = question.relation in ("left of", "right of")
        return "spatial", "horizontal" if horizontal else "vertical"
    if isinstance(question, CompareSize):
        return "comparison", "size"
    if isinstance(question, CompareCount):
        return "comparison", "count"
    return "comparison", "colour"
