"""Checkpoint manifests: every file of a checkpoint with its size and SHA-256 checksum.

A checkpoint folder is written whole into a staging folder and renamed into place; its
``manifest.json`` is written last, after that rename. A checkpoint with a manifest whose
files all match it is complete and intact; any other folder is not a checkpoint to resume
from (see :mod:`dataenvgym.checkpoint`). The manifest lists files relative to the checkpoint
folder, in POSIX form::

    {"format": 1, "files": {"state.pkl": {"size": 1234, "sha256": "ab12..."}, ...}}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from dataenvgym.errors import DataEnvGymError

MANIFEST = "manifest.json"
#: Bump when the layout of ``manifest.json`` changes.
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


class ManifestMismatch(DataEnvGymError):
    """A file of a folder is missing, cut short or altered since its manifest was written.

    Attributes:
        checkpoint: The folder.
        file: The damaged file, relative to ``checkpoint``.
        problem: What is wrong with it, in a few words.
    """

    def __init__(self, checkpoint: Path, file: str, problem: str) -> None:
        super().__init__(f"checkpoint {checkpoint} is damaged: {file} {problem}")
        self.checkpoint = checkpoint
        self.file = file
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across a numerics subprocess
        return (type(self), (self.checkpoint, self.file, self.problem))


def file_digest(path: Path, *, sync: bool = False) -> str:
    """SHA-256 of a file's bytes, read in chunks (student weights can be large); with
    ``sync``, the file is flushed to disk too."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
        if sync:
            os.fsync(handle.fileno())
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_manifest(folder: Path) -> Path:
    """Record every file under ``folder`` in ``folder/manifest.json``, durably.

    Every file is flushed to disk before the manifest vouches for it; the manifest is written
    aside, flushed and renamed, so a crash leaves either no manifest or a whole one.

    Returns:
        The manifest's path.
    """
    files = {
        path.relative_to(folder).as_posix(): {
            "size": path.stat().st_size,
            "sha256": file_digest(path, sync=True),
        }
        for path in _files(folder)
    }
    text = json.dumps({"format": MANIFEST_FORMAT, "files": files}, indent=2) + "\n"
    target = folder / MANIFEST
    staging = folder / f".{MANIFEST}.tmp"
    with staging.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, target)
    _fsync_dir(folder)
    return target


def read_manifest(folder: Path) -> dict[str, dict[str, Any]] | None:
    """The files ``folder/manifest.json`` records, or ``None`` when there is no manifest.

    Raises:
        ManifestMismatch: the manifest itself is unreadable or malformed.
    """
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestMismatch(folder, MANIFEST, f"is unreadable ({_why(err)})") from err
    files = data.get("files") if isinstance(data, dict) else None
    well_formed = isinstance(files, dict) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        for entry in files.values()
    )
    if not well_formed or not files:
        raise ManifestMismatch(folder, MANIFEST, "is not a checkpoint manifest")
    if data.get("format") != MANIFEST_FORMAT:
        raise ManifestMismatch(
            folder, MANIFEST, f"has format {data.get('format')!r}, expected {MANIFEST_FORMAT}"
        )
    return files


def verify_manifest(folder: Path) -> bool:
    """Check every file ``folder/manifest.json`` records: present, same size, same checksum.

    Sizes are compared first, so a truncated file is named without hashing the rest.

    Returns:
        True when the folder has a manifest and matches it; False when it has none.

    Raises:
        ManifestMismatch: naming the first file that is missing or differs.
    """
    files = read_manifest(folder)
    if files is None:
        return False
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise ManifestMismatch(folder, name, "is missing")
        size = path.stat().st_size
        if size != entry["size"]:
            raise ManifestMismatch(
                folder, name, f"is {size} bytes, its manifest says {entry['size']}"
            )
    for name, entry in files.items():
        try:
            digest = file_digest(folder / name)
        except OSError as err:
            raise ManifestMismatch(folder, name, f"is unreadable ({_why(err)})") from err
        if digest != entry["sha256"]:
            raise ManifestMismatch(folder, name, "does not match its manifest checksum")
    return True


def _why(err: BaseException) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"invalid JSON at line {err.lineno}"
    if isinstance(err, UnicodeDecodeError):
        return "not text"
    return type(err).__name__
