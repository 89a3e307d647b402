"""Reading benchmark records by Hugging Face hub name or from a local folder.

A local folder may hold:

* one file per split: ``train.jsonl`` / ``test.jsonl`` (or ``.json``, ``.parquet``), at the top
  or in subfolders (a hub snapshot such as ``algebra/train-00000-of-00001.parquet``);
* the original MATH release: ``train/<subject>/<n>.json``, one problem per file.

Anything else is read with ``datasets.load_dataset``, which downloads (once) from the hub.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataenvgym.errors import ConfigError

Record = dict[str, Any]

_SUFFIXES = (".jsonl", ".json", ".parquet")


def _read_file(path: Path) -> list[Record]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    loaded = json.loads(text)
    if isinstance(loaded, dict):  # the original MATH release: one problem per file
        return [loaded]
    if isinstance(loaded, list):
        return list(loaded)
    raise ConfigError(f"{path} holds neither a record nor a list of records")


def _split_files(folder: Path, split: str) -> list[Path]:
    """Files of ``split`` under ``folder``, in a stable order."""
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in _SUFFIXES:
            continue
        relative = path.relative_to(folder).parts
        stem = path.name.split(".")[0]
        named = stem == split or stem.startswith(f"{split}-") or stem.startswith(f"{split}_")
        in_split_folder = relative[0] == split and len(relative) > 1
        if named or in_split_folder:
            found.append(path)
    return found


def load_local(folder: Path, split: str) -> list[Record]:
    """Every record of ``split`` in a local folder (see the module docstring)."""
    if not folder.is_dir():
        raise ConfigError(f"dataset path {folder} is not a folder")
    files = _split_files(folder, split)
    if not files:
        raise ConfigError(
            f"no '{split}' files in {folder}: expected {split}.jsonl, {split}.json, "
            f"{split}-*.parquet or {split}/<subject>/*.json"
        )
    records: list[Record] = []
    for path in files:
        records.extend(_read_file(path))
    return records


def load_hub(
    name: str, split: str, subsets: Sequence[str | None], revision: str | None
) -> list[Record]:
    """Every record of ``split`` across ``subsets`` (hub configs) of a hub dataset."""
    try:
        from datasets import load_dataset
    except ImportError as err:  # pragma: no cover - datasets is in the [hf] extra
        raise ConfigError(
            f"reading {name!r} from the hub needs the 'datasets' package: "
            "pip install 'dataenvgym[hf]'"
        ) from err
    records: list[Record] = []
    for subset in subsets:
        try:
            data = load_dataset(name, subset, split=split, revision=revision)
        except Exception as err:  # network, missing repo or config: one clear line
            where = f"{name}" + (f" ({subset})" if subset else "")
            raise ConfigError(
                f"cannot load split {split!r} of {where}: {type(err).__name__}: {err}. Give a "
                "reachable hub name or a local folder in domain_config.dataset"
            ) from err
        records.extend(dict(row) for row in data)
    return records


def load_records(
    source: str,
    split: str,
    *,
    subsets: Sequence[str | None] = (None,),
    revision: str | None = None,
) -> list[Record]:
    """Records of ``split`` from a local folder when ``source`` is one, else from the hub."""
    path = Path(source).expanduser()
    if path.exists():
        return load_local(path, split)
    return load_hub(source, split, subsets, revision)


def require_fields(records: Sequence[Record], fields: Sequence[str], source: str) -> None:
    """Raise :class:`ConfigError` naming the first record that lacks one of ``fields``."""
    for index, record in enumerate(records):
        missing = [f for f in fields if f not in record or record[f] is None]
        if missing:
            raise ConfigError(
                f"record {index} of {source} lacks {', '.join(missing)}; every record needs "
                f"{', '.join(fields)}"
            )
