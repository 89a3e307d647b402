"""How a VQA item carries its image, for every VQA source (rendered scenes, easy-vqa, GQA).

An item's prompt starts with an image tag, ``<image:ID> question``, where ``ID`` names the
image by content (a scene's hash) or by its data set id. The tag keeps prompts unique per
(image, question), so the environments' duplicate and contamination guards, which compare
prompts, work for VQA unchanged. The image itself is found from the item's ``metadata``:
``scene`` (a :class:`~.scene.Scene` spec, rendered on demand) or ``image_path`` (a file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

from dataenvgym.domains.vqa.scene import Scene, render

_TAG = re.compile(r"^<image:([^>\s]+)>\s*")


def make_prompt(image_id: str, question: str) -> str:
    """``<image:ID> question``."""
    return f"<image:{image_id}> {question}"


def split_prompt(prompt: str) -> tuple[str | None, str]:
    """The image id (``None`` if the prompt has no tag) and the question text."""
    match = _TAG.match(prompt)
    if match is None:
        return None, prompt.strip()
    return match.group(1), prompt[match.end() :].strip()


def image_key(metadata: Mapping[str, Any], prompt: str = "") -> str:
    """A cache key for the item's image: the prompt's tag, else the metadata's source."""
    tag, _ = split_prompt(prompt)
    if tag is not None:
        return tag
    if "image_path" in metadata:
        return f"file:{metadata['image_path']}"
    if "scene" in metadata:
        return f"scene:{Scene.model_validate(metadata['scene']).key()}"
    raise ValueError("the item carries no image: metadata needs 'scene' or 'image_path'")


def load_image(metadata: Mapping[str, Any]) -> Image.Image:
    """The RGB image of an item: its rendered ``scene`` or the file at ``image_path``.

    Raises:
        ValueError: if the metadata holds neither.
    """
    if "scene" in metadata:
        scene = metadata["scene"]
        return render(scene if isinstance(scene, Scene) else Scene.model_validate(scene))
    if "image_path" in metadata:
        return _open(str(metadata["image_path"])).copy()
    raise ValueError("the item carries no image: metadata needs 'scene' or 'image_path'")


@lru_cache(maxsize=4096)
def _open(path: str) -> Image.Image:
    if not Path(path).is_file():
        raise ValueError(f"image file {path} does not exist")
    with Image.open(path) as image:
        return image.convert("RGB")
