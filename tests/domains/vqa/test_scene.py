"""The renderer draws exactly the spec: colours at centres, one blob per object, shapes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import ValidationError

from dataenvgym.domains.vqa import generators as g
from dataenvgym.domains.vqa.scene import (
    CANVAS,
    RGB,
    Scene,
    SceneObject,
    random_object,
    random_scene,
    render,
)


def _blobs(mask: np.ndarray) -> list[set[tuple[int, int]]]:
    """4-connected components of a boolean mask."""
    seen = np.zeros_like(mask, dtype=bool)
    blobs = []
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        stack, blob = [(int(y), int(x))], set()
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            blob.add((cy, cx))
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < CANVAS and 0 <= nx < CANVAS and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        blobs.append(blob)
    return blobs


def _scenes(count: int) -> list[Scene]:
    rng = random.Random(7)
    scenes = []
    for skill, subs in g.CATALOGUE.items():
        for subskill in subs:
            scenes += [g.generate(skill, subskill, rng).scene for _ in range(count)]
    return scenes


def test_centre_pixels_have_the_spec_colour_and_blobs_match_the_objects() -> None:
    for scene in _scenes(6):
        pixels = np.asarray(render(scene))
        assert pixels.shape == (CANVAS, CANVAS, 3)
        for obj in scene.objects:
            assert tuple(pixels[obj.y, obj.x]) == RGB[obj.color], obj.describe()
        foreground = np.any(pixels != np.array(scene.background, dtype=np.uint8), axis=2)
        blobs = _blobs(foreground)
        assert len(blobs) == len(scene.objects)  # counts match: nothing touches, nothing lost
        for obj in scene.objects:
            (blob,) = [b for b in blobs if (obj.y, obj.x) in b]
            colours = {tuple(pixels[y, x]) for y, x in blob}
            assert colours == {RGB[obj.color]}  # no anti-aliasing: exact colours only


def test_shapes_are_told_apart_by_how_much_of_their_box_they_fill() -> None:
    fills: dict[str, list[float]] = {"circle": [], "rectangle": [], "triangle": []}
    for scene in _scenes(3):
        pixels = np.asarray(render(scene))
        foreground = np.any(pixels != np.array(scene.background, dtype=np.uint8), axis=2)
        for blob in _blobs(foreground):
            ys, xs = zip(*blob, strict=True)
            box = (max(ys) - min(ys) + 1) * (max(xs) - min(xs) + 1)
            obj = next(o for o in scene.objects if (o.y, o.x) in blob)
            fills[obj.shape].append(len(blob) / box)
    assert min(fills["rectangle"]) == 1.0
    assert min(fills["circle"]) > 0.7 and max(fills["circle"]) < 0.9
    assert max(fills["triangle"]) < 0.65


def test_large_objects_cover_more_pixels_than_small_ones() -> None:
    rng = random.Random(0)
    for shape in ("circle", "rectangle", "triangle"):
        areas = {}
        for size in ("small", "large"):
            scene = random_scene(rng, [random_object(rng, shape=shape, color="red", size=size)])
            areas[size] = int(np.all(np.asarray(render(scene)) == RGB["red"], axis=2).sum())
        assert areas["large"] > 2 * areas["small"]


def test_invalid_scenes_are_rejected_with_a_reason() -> None:
    obj = SceneObject(shape="circle", color="red", size="large", x=20, y=20)
    with pytest.raises(ValidationError, match="overlap"):
        Scene(objects=(obj, obj.model_copy(update={"x": 25})))
    with pytest.raises(ValidationError, match="does not fit"):
        Scene(objects=(obj.model_copy(update={"x": 2}),))
    with pytest.raises(ValidationError, match="background"):
        Scene(objects=(obj,), background=(0, 0, 0))
    with pytest.raises(ValidationError):
        SceneObject(shape="hexagon", color="red", size="large", x=20, y=20)  # type: ignore[arg-type]


def test_scene_key_is_a_content_hash() -> None:
    rng = random.Random(1)
    scene = random_scene(rng, [random_object(rng) for _ in range(3)])
    same = Scene.model_validate_json(scene.model_dump_json())
    assert same.key() == scene.key()
    moved = scene.model_copy(update={"background": (230, 230, 230)})
    assert moved.key() != scene.key()
