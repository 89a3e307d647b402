"""Export of the generated training data: JSONL with provenance, HF dataset, chat JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.report import ExportError, export_rows, export_run, load_run
from dataenvgym.report.export import COLUMNS, hf_row

runner = CliRunner()


def _data_files(run: Path) -> list[dict]:
    rows = []
    for path in sorted(run.glob("iteration_*/data.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def test_jsonl_rows_are_the_kept_data_with_skill_labels_and_provenance(
    tiny_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "data.jsonl"
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert len(rows) == summary["total_training_data"] > 0
    source = _data_files(tiny_run)
    assert [r["prompt"] for r in rows] == [d["prompt"] for d in source]
    assert [r["response"] for r in rows] == [d["response"] for d in source]
    for row in rows:
        assert list(row) == list(COLUMNS)
        assert row["skill"] and row["subskill"]
        assert row["iteration"] in (1, 2)
        assert row["agent"] == "with-state" and row["seed"] == 0 and row["env"] == "skill-tree"
        assert row["policy"] == "SkillTreeStatePolicy"
        assert row["engine"] == "ProceduralEngine"
        assert row["source"] == "procedural"
    per_iteration = [r["num_new_data"] for r in summary["iterations"]]
    assert [sum(r["iteration"] == i + 1 for r in rows) for i in range(2)] == per_iteration


def test_chat_format_is_openai_fine_tuning_messages(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "chat.jsonl"
    count = export_run(tiny_run, out, "chat", system="Answer with the number only.")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == count == len(_data_files(tiny_run))
    first, datum = records[0], _data_files(tiny_run)[0]
    assert list(first) == ["messages"]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][1]["content"] == datum["prompt"]
    assert first["messages"][2]["content"] == datum["response"]
    export_run(tiny_run, out, "chat")
    assert [m["role"] for m in json.loads(out.read_text().splitlines()[0])["messages"]] == [
        "user",
        "assistant",
    ]


def test_hf_dataset_round_trips(tiny_run: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the [hf] extra is not installed")
    out = tmp_path / "hf"
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "hf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    loaded = datasets.load_from_disk(str(out))
    rows = export_rows(load_run(tiny_run))
    assert loaded.num_rows == len(rows) > 0
    assert loaded.column_names == list(COLUMNS)
    assert loaded.to_list() == [hf_row(r) for r in rows]
    assert [json.loads(m) for m in loaded["metadata"]] == [r["metadata"] for r in rows]


def test_unknown_format_and_missing_run_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="jsonl, hf, chat"):
        export_run(tmp_path, tmp_path / "x", "csv")
    result = runner.invoke(app, ["export", str(tmp_path), "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert "no summary.json" in result.output
