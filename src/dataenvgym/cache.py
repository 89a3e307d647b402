"""Where dataenvgym keeps things worth reusing across runs (base students, datasets)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$DATAENVGYM_CACHE``, else ``$XDG_CACHE_HOME/dataenvgym``, else ``~/.cache/dataenvgym``."""
    explicit = os.environ.get("DATAENVGYM_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dataenvgym"


def fingerprint(payload: Any) -> str:
    """A short stable hash of a JSON-serialisable payload (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
