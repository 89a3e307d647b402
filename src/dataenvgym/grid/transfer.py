"""Folders as bytes: how run folders and base students travel between this machine and Ray
workers, so that no node needs a filesystem shared with another."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path


def pack(folder: Path) -> bytes:
    """Everything under ``folder`` as an (uncompressed: checkpoints hardly compress) tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in sorted(folder.iterdir()):
            tar.add(entry, arcname=entry.name)
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> None:
    """Extract a :func:`pack` into ``folder`` (made if missing); nothing lands outside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # pragma: no cover - Pythons before the extraction filters
            for member in tar.getmembers():
                target = (folder / member.name).resolve()
                if not target.is_relative_to(folder.resolve()) or member.issym() or member.islnk():
                    raise ValueError(f"refusing to extract {member.name!r}")
            tar.extractall(folder)


def add_missing(data: bytes, root: Path) -> list[str]:
    """Put each top-level folder of a :func:`pack` into ``root`` unless ``root`` has it
    already (a cache: an entry that exists is the same one). Returns the names added."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".incoming-"))
    added = []
    try:
        unpack(data, staging)
        for entry in sorted(staging.iterdir()):
            if (root / entry.name).exists():
                continue
            try:
                os.replace(entry, root / entry.name)  # whole, or not at all
            except OSError:  # another worker put it there first: theirs is the same
                continue
            added.append(entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return added


def place(data: bytes, folder: Path) -> list[Path]:
    """Put a run folder that came back from a worker where the user asked for it.

    ``data`` packs the worker's parent folder: the run folder (named as ``folder``) replaces
    ``folder``; anything beside it (a stale run the episode set aside) is kept next to it,
    under a free name. Returns the folders written.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".incoming-{folder.name}-"))
    written = []
    try:
        unpack(data, staging)
        for entry in sorted(staging.iterdir()):
            if entry.name == folder.name:
                # The old folder goes only once the new one is in its place.
                old = parent / f".replaced-{folder.name}-{staging.name}"
                if folder.exists():
                    os.replace(folder, old)
                os.replace(entry, folder)
                shutil.rmtree(old, ignore_errors=True)
                written.append(folder)
                continue
            target, number = parent / entry.name, 1
            while target.exists():
                number += 1
                target = parent / f"{entry.name}-{number}"
            os.replace(entry, target)
            written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
