"""Export the training data a teacher generated in a run, with skill labels and provenance.

Three forms:

* ``jsonl``: one JSON object per datum: the datum's fields (prompt, response, skill,
  subskill, iteration, source, metadata) plus where it came from (run, env, agent, policy,
  engine, seed).
* ``hf``: the same rows as a Hugging Face ``datasets.Dataset`` saved with
  ``save_to_disk`` (``metadata`` as a JSON string, so rows of any domain share one schema).
* ``chat``: OpenAI chat fine-tuning JSONL, ``{"messages": [user, assistant]}`` per datum
  (with a system message when one is given); provenance is left out because the
  fine-tuning format admits no other keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from dataenvgym.errors import DataEnvGymError
from dataenvgym.report.run_data import RunData, load_run

ExportFormat = Literal["jsonl", "hf", "chat"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "hf", "chat")

#: Column order of the exported rows (the HF dataset's schema follows it).
COLUMNS = (
    "id",
    "domain",
    "prompt",
    "response",
    "skill",
    "subskill",
    "iteration",
    "source",
    "run",
    "env",
    "agent",
    "policy",
    "engine",
    "seed",
    "metadata",
)


class ExportError(DataEnvGymError):
    """The export cannot be made (unknown format, missing optional dependency)."""


def export_rows(run: RunData) -> list[dict[str, Any]]:
    """Every kept training datum of ``run`` as a flat row with provenance."""
    teacher = run.teacher
    provenance = {
        "run": run.name,
        "env": run.env,
        "agent": run.agent,
        "policy": teacher["policy"],
        "engine": teacher["engine"],
        "seed": run.seed,
    }
    rows = []
    for datum in run.all_data():
        row = {
            "id": datum["id"],
            "domain": datum["domain"],
            "prompt": datum["prompt"],
            "response": datum["response"],
            "skill": datum.get("skill"),
            "subskill": datum.get("subskill"),
            "iteration": datum.get("iteration"),
            "source": datum.get("source", "procedural"),
            **provenance,
            "metadata": datum.get("metadata") or {},
        }
        rows.append({key: row[key] for key in COLUMNS})
    return rows


def hf_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as stored in the HF dataset: ``metadata`` serialised to a JSON string."""
    return {**row, "metadata": json.dumps(row["metadata"], sort_keys=True)}


def chat_record(row: dict[str, Any], system: str | None = None) -> dict[str, Any]:
    """One OpenAI fine-tuning example: the prompt as the user turn, the response as the
    assistant's."""
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": row["prompt"]},
        {"role": "assistant", "content": row["response"]},
    ]
    return {"messages": messages}


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _save_hf(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import datasets
    except ImportError as err:
        raise ExportError(
            "--format hf needs the Hugging Face `datasets` package: "
            "pip install 'dataenvgym[hf]' (or pip install datasets)"
        ) from err
    string, integer = datasets.Value("string"), datasets.Value("int64")
    features = datasets.Features(
        {col: integer if col in ("iteration", "seed") else string for col in COLUMNS}
    )
    table = {col: [hf_row(r)[col] for r in rows] for col in COLUMNS}
    datasets.Dataset.from_dict(table, features=features).save_to_disk(str(path))


def export_run(
    run: RunData | str | Path,
    out: str | Path,
    fmt: str = "jsonl",
    *,
    system: str | None = None,
) -> int:
    """Write the run's generated training data to ``out`` in format ``fmt``.

    Args:
        run: A loaded run or its folder.
        out: A ``.jsonl`` file for ``jsonl`` and ``chat``; a directory for ``hf``.
        fmt: ``jsonl``, ``hf`` or ``chat``.
        system: Optional system message for every ``chat`` example.

    Returns:
        The number of rows written.

    Raises:
        ExportError: on an unknown format, or ``hf`` without ``datasets`` installed.
        RunFolderError: when ``run`` is not a finished run folder.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of: jsonl, hf, chat")
    loaded = run if isinstance(run, RunData) else load_run(run)
    rows = export_rows(loaded)
    path = Path(out)
    if fmt == "jsonl":
        _write_jsonl(path, rows)
    elif fmt == "chat":
        _write_jsonl(path, [chat_record(r, system) for r in rows])
    else:
        _save_hf(rows, path)
    return len(rows)
