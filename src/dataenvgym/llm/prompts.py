"""Prompt templates kept as text files in the package (``dataenvgym/llm/prompts/``).

Templates are files, not strings buried in code, so a reader can see and edit what each role
is asked. ``string.Template`` rather than ``str.format``: prompts are full of JSON examples,
whose braces would otherwise all need doubling.
"""

from __future__ import annotations

from importlib import resources
from string import Template

_PACKAGE = "dataenvgym.llm"
_FOLDER = "prompts"


def _resolve(name: str) -> str:
    return name if "." in name else f"{name}.txt"


def list_prompts() -> list[str]:
    """Names (without ``.txt``) of the templates shipped with the package."""
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    return sorted(
        entry.name.removesuffix(".txt")
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(".txt")
    )


def load_prompt(name: str, /, **values: object) -> str:
    """Read a template and fill in its placeholders.

    Args:
        name: File name in the prompts folder; ``.txt`` is added when there is no suffix.
        **values: Values for the ``$placeholders``; each is converted with ``str()``.

    Returns:
        The filled-in prompt. With no values, the raw template text.

    Raises:
        FileNotFoundError: No such template (the message lists the available ones).
        KeyError: A placeholder has no value (the message names it and the template).
    """
    entry = resources.files(_PACKAGE).joinpath(_FOLDER, _resolve(name))
    if not entry.is_file():
        raise FileNotFoundError(
            f"no prompt template {name!r} in {_PACKAGE}/{_FOLDER}; available: {list_prompts()}"
        )
    text = entry.read_text(encoding="utf-8")
    if not values:
        return text
    try:
        return Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as err:
        raise KeyError(f"prompt template {name!r} needs a value for ${err.args[0]}") from None
