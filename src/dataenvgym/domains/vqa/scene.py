"""Scenes as data, and the renderer that draws them exactly.

A scene is a list of flat shapes on a light background, each with a shape, a colour, a size
and a centre. The scene *is* the label: every question is answered from the spec, and the
renderer draws the spec with Pillow, without anti-aliasing, so each object's pixels have
exactly its colour. Shapes, colours and the 64×64 canvas follow the ``easy-vqa`` dataset, so
a student trained on rendered scenes can also be evaluated on it.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal, get_args

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CANVAS = 64
Shape = Literal["circle", "rectangle", "triangle"]
Color = Literal["red", "green", "blue", "yellow", "teal", "brown", "black", "gray"]
Size = Literal["small", "large"]
SHAPES: tuple[str, ...] = get_args(Shape)
COLORS: tuple[str, ...] = get_args(Color)
SIZES: tuple[str, ...] = get_args(Size)

#: The exact RGB of each colour (easy-vqa's values, so the two data sets look alike).
RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "teal": (0, 128, 128),
    "brown": (165, 42, 42),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
}
#: Half the extent of an object, in pixels.
RADIUS: dict[str, int] = {"small": 5, "large": 9}
#: Free pixels between two objects, so that they never touch and each stays countable.
MIN_SEPARATION = 3
MAX_OBJECTS = 5
#: Background channels are drawn from this range: light, and far from every object colour.
BACKGROUND_RANGE = (215, 250)


class SceneObject(BaseModel):
    """One flat shape: what it is, its colour and size, and where its centre lies (pixels)."""

    model_config = ConfigDict(frozen=True)

    shape: Shape
    color: Color
    size: Size
    x: int = Field(ge=0, lt=CANVAS, description="Centre column; 0 is the left edge.")
    y: int = Field(ge=0, lt=CANVAS, description="Centre row; 0 is the top edge.")

    @property
    def radius(self) -> int:
        return RADIUS[self.size]

    def describe(self) -> str:
        return f"{self.size} {self.color} {self.shape} at ({self.x}, {self.y})"


class Scene(BaseModel):
    """A whole image as data: a light background and up to :data:`MAX_OBJECTS` shapes.

    Validation rejects scenes the renderer could not draw faithfully: objects that leave the
    canvas or come closer than :data:`MIN_SEPARATION` pixels to each other.
    """

    model_config = ConfigDict(frozen=True)

    objects: tuple[SceneObject, ...] = Field(default=(), max_length=MAX_OBJECTS)
    background: tuple[int, int, int] = (240, 240, 240)

    @field_validator("background")
    @classmethod
    def _light(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        low, high = BACKGROUND_RANGE
        if not all(low <= c <= high for c in value):
            raise ValueError(f"background channels must lie in [{low}, {high}], got {value}")
        return value

    @model_validator(mode="after")
    def _drawable(self) -> Scene:
        for obj in self.objects:
            r = obj.radius
            if not (r <= obj.x < CANVAS - r and r <= obj.y < CANVAS - r):
                raise ValueError(f"{obj.describe()} does not fit on the {CANVAS}px canvas")
        for i, a in enumerate(self.objects):
            for b in self.objects[i + 1 :]:
                if not _apart(a, b):
                    raise ValueError(f"{a.describe()} and {b.describe()} overlap or touch")
        return self

    def key(self) -> str:
        """A content hash: equal scenes (and so equal images) have equal keys."""
        return hashlib.sha1(self.model_dump_json().encode()).hexdigest()[:16]


def _apart(a: SceneObject, b: SceneObject) -> bool:
    # Bounding boxes separated on at least one axis: shapes inside them cannot touch.
    gap = a.radius + b.radius + MIN_SEPARATION
    return abs(a.x - b.x) >= gap or abs(a.y - b.y) >= gap


def render(scene: Scene) -> Image.Image:
    """Draw ``scene`` as a ``CANVAS``×``CANVAS`` RGB image (no anti-aliasing: exact colours)."""
    image = Image.new("RGB", (CANVAS, CANVAS), scene.background)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        x, y, r, fill = obj.x, obj.y, obj.radius, RGB[obj.color]
        if obj.shape == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif obj.shape == "rectangle":
            # Wider than tall, as in easy-vqa, so it never reads as a rotated triangle.
            h = (3 * r) // 4
            draw.rectangle((x - r, y - h, x + r, y + h), fill=fill)
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return image


def random_background(rng: random.Random) -> tuple[int, int, int]:
    low, high = BACKGROUND_RANGE
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def random_object(
    rng: random.Random,
    *,
    shape: str | None = None,
    color: str | None = None,
    size: str | None = None,
) -> SceneObject:
    """An object with the given attributes (random where ``None``) at a random position."""
    size = size or rng.choice(SIZES)
    r = RADIUS[size]
    return SceneObject(
        shape=shape or rng.choice(SHAPES),  # type: ignore[arg-type]
        color=color or rng.choice(COLORS),  # type: ignore[arg-type]
        size=size,  # type: ignore[arg-type]
        x=rng.randint(r, CANVAS - 1 - r),
        y=rng.randint(r, CANVAS - 1 - r),
    )


def place(
    rng: random.Random, objects: list[SceneObject], *, attempts: int = 200
) -> tuple[SceneObject, ...] | None:
    """Move ``objects`` to random non-overlapping positions; ``None`` if they do not fit."""
    placed: list[SceneObject] = []
    for obj in objects:
        for _ in range(attempts):
            r = obj.radius
            moved = obj.model_copy(
                update={"x": rng.randint(r, CANVAS - 1 - r), "y": rng.randint(r, CANVAS - 1 - r)}
            )
            if all(_apart(moved, other) for other in placed):
                placed.append(moved)
                break
        else:
            return None
    return tuple(placed)


def random_scene(rng: random.Random, objects: list[SceneObject]) -> Scene:
    """A scene holding ``objects`` (attributes kept, positions redrawn until they fit).

    Raises:
        ValueError: if the objects do not fit on the canvas after many tries.
    """
    for _ in range(50):
        placed = place(rng, objects)
        if placed is not None:
            return Scene(objects=placed, background=random_background(rng))
    raise ValueError(f"{len(objects)} objects of these sizes do not fit on the canvas")
