"""Run folders that check their own integrity: manifests, fallback on resume, clear lines.

A finished 3-iteration run is made once (through the CLI); each test damages a copy of it
(truncated, overwritten with garbage of the same size, deleted) and checks either the
automatic fallback to the newest intact checkpoint, with a summary equal to the undamaged
run's, or one line naming the file and exit code 2.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.checkpoint import (
    CheckpointError,
    DamagedCheckpointError,
    IncompleteCheckpointError,
    checkpoints,
    inspect_checkpoint,
    read_run_folder,
)
from dataenvgym.cli import app
from dataenvgym.manifest import MANIFEST, read_manifest, verify_manifest
from dataenvgym.resume import select_checkpoint

runner = CliRunner()
WALL_TIME_FIELDS = ("wall_seconds", "base_student_seconds")
CONFIG: dict[str, Any] = {
    "env": "skill-list",
    "iterations": 3,
    "budget": 30,
    "seed": 5,
    "trainer": {"steps_per_iteration": 4},
    "student_config": {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 32},
    "pretrain": {"steps": 10, "examples": 300},
    "domain_config": {"val_per_subskill": 5, "test_per_subskill": 5},
}
CHECKPOINT_FILES = ("state.pkl", "student/model.pt", "student/config.json", MANIFEST)
DAMAGES = ("truncate", "garbage", "delete")


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without its wall-time fields (which differ between any two runs)."""
    out = {k: v for k, v in summary.items() if k not in WALL_TIME_FIELDS}
    out["iterations"] = [
        {k: v for k, v in row.items() if k != "train_seconds"} for row in summary["iterations"]
    ]
    return out


def damage(path: Path, how: str) -> None:
    """Cut ``path`` to half its size, overwrite it with bytes of the same size, or delete it."""
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":  # same size: only the checksum can tell
        path.write_bytes(bytes((b + 101) % 256 for b in data) or b"\xff")
    else:
        path.unlink()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-iteration run made through `dataenvgym run`."""
    root = tmp_path_factory.mktemp("integrity")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out = root / "finished"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAENVGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        result = runner.invoke(
            app, ["run", "--config", str(config), "--out", str(out), "--no-report"]
        )
    assert result.exit_code == 0, result.output
    return out


def _copy(finished: Path, tmp_path: Path, *, interrupted: bool = True) -> Path:
    """A copy of the finished run; ``interrupted``: without its summary.json, as a run cut
    off after its last checkpoint leaves it."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    if interrupted:
        (run / "summary.json").unlink()
    return run


def _summary(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def _one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --------------------------------------------------------------------------- manifests


def test_each_checkpoint_has_a_manifest_of_its_files_and_two_are_kept(finished: Path) -> None:
    kept = checkpoints(finished)
    assert [p.parent.name for p in kept] == ["iteration_003", "iteration_002"]
    for path in kept:
        files = read_manifest(path)
        assert files is not None
        assert set(files) == {"state.pkl", "student/model.pt", "student/config.json"}
        assert files["state.pkl"]["size"] == (path / "state.pkl").stat().st_size
        assert verify_manifest(path)
        checkpoint, verified = inspect_checkpoint(path)
        assert verified and checkpoint.iteration == int(path.parent.name[-3:])


# A deleted manifest is no damage but an unfinished checkpoint (tested on its own below).
DAMAGED_CHECKPOINTS = [
    (name, how)
    for name in CHECKPOINT_FILES
    for how in DAMAGES
    if (name, how) != (MANIFEST, "delete")
]


@pytest.mark.parametrize(("name", "how"), DAMAGED_CHECKPOINTS)
def test_a_damaged_checkpoint_is_named_and_set_aside(
    finished: Path, tmp_path: Path, name: str, how: str
) -> None:
    run = _copy(finished, tmp_path)
    newest, before = run / "iteration_003" / "checkpoint", run / "iteration_002" / "checkpoint"
    damage(newest / name, how)
    with pytest.raises(DamagedCheckpointError) as caught:
        inspect_checkpoint(newest)
    assert caught.value.file == name
    # --strict-resume: one line naming the file, nothing renamed.
    pattern = rf"{re.escape(str(newest))}.*{re.escape(name)}.*--strict-resume"
    with pytest.raises(CheckpointError, match=pattern):
        select_checkpoint(run, strict=True)
    assert newest.is_dir()
    # read-only readers look past it without touching it.
    assert read_run_folder(run)[1] is None and newest.is_dir()
    selected = select_checkpoint(run)
    assert selected.path == before and selected.checkpoint is not None
    assert selected.checkpoint.iteration == 2
    (note,) = selected.notes
    assert name in note and "set aside as iteration_003/checkpoint.damaged-1" in note
    assert not newest.exists() and (run / "iteration_003" / "checkpoint.damaged-1").is_dir()


def test_a_checkpoint_whose_manifest_never_landed_is_no_checkpoint(
    finished: Path, tmp_path: Path
) -> None:
    """The manifest is written last: a crash just before it leaves the folder unvouched."""
    run = _copy(finished, tmp_path)
    newest = run / "iteration_003" / "checkpoint"
    (newest / MANIFEST).unlink()
    with pytest.raises(IncompleteCheckpointError, match="never completed"):
        inspect_checkpoint(newest)
    selected = select_checkpoint(run, strict=True)  # no checkpoint: nothing to be strict about
    assert selected.path == run / "iteration_002" / "checkpoint"
    assert len(selected.notes) == 1 and "never completed" in selected.notes[0]
    assert (run / "iteration_003" / "checkpoint.damaged-1").is_dir()


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize(
    ("name", "how"),
    [("student/model.pt", "truncate"), ("state.pkl", "garbage"), (MANIFEST, "delete")],
)
def test_resume_falls_back_to_the_newest_intact_checkpoint(
    finished: Path, tmp_path: Path, name: str, how: str
) -> None:
    run = _copy(finished, tmp_path)
    damage(run / "iteration_003" / "checkpoint" / name, how)
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and name in warnings[0], result.stderr
    assert "iteration_003/checkpoint.damaged-1" in warnings[0]
    # Iteration 3 ran again from iteration 2's checkpoint: the same episode.
    assert comparable(_summary(run)) == comparable(_summary(finished))
    for iteration in (1, 2, 3):
        data = f"iteration_{iteration:03d}/data.jsonl"
        assert (run / data).read_text() == (finished / data).read_text()
    assert verify_manifest(run / "iteration_003" / "checkpoint")  # a fresh, whole one
    assert (run / "iteration_003" / "checkpoint.damaged-1").is_dir()  # kept aside
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    notices = [e for e in events if e["event"] == "resume_notice"]
    assert len(notices) == 1 and name in notices[0]["message"]
    assert [e["iteration"] for e in events if e["event"] == "resume"] == [2]


def test_strict_resume_stops_with_one_line_and_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    damage(run / "iteration_003" / "checkpoint" / "student" / "model.pt", "truncate")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    result = runner.invoke(app, ["run", "--resume", str(run), "--strict-resume", "--no-report"])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "iteration_003/checkpoint is damaged: student/model.pt is" in line
    assert "--strict-resume" in line
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    alone = runner.invoke(app, ["run", "--strict-resume", "--out", str(tmp_path / "new")])
    assert alone.exit_code == 2 and "--resume" in _one_error_line(alone)


def test_with_no_intact_checkpoint_left_resume_stops_and_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    damage(run / "iteration_003" / "checkpoint" / "student" / "model.pt", "garbage")
    damage(run / "iteration_002" / "checkpoint" / "state.pkl", "truncate")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "student/model.pt does not match its manifest checksum" in line
    assert "no intact checkpoint is left" in line
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_checkpoints_whose_manifest_never_landed_are_passed_over(
    finished: Path, tmp_path: Path
) -> None:
    """No checkpoint at all: the episode starts afresh, as one interrupted before its first."""
    run = _copy(finished, tmp_path)
    for iteration in (2, 3):
        (run / f"iteration_{iteration:03d}" / "checkpoint" / MANIFEST).unlink()
    result = runner.invoke(app, ["run", "--resume", str(run), "--strict-resume", "--no-report"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("never completed") == 2
    assert comparable(_summary(run)) == comparable(_summary(finished))
    assert (run / "iteration_002" / "checkpoint.damaged-1").is_dir()


def _as_format_1(path: Path) -> None:
    """Make ``path`` look like a checkpoint written before manifests were kept."""
    (path / MANIFEST).unlink()
    with (path / "state.pkl").open("rb") as handle:
        state = pickle.load(handle)
    state.format = 1
    (path / "state.pkl").write_bytes(pickle.dumps(state))


def test_checkpoints_without_a_manifest_are_verified_by_loading(
    finished: Path, tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    for iteration in (2, 3):
        _as_format_1(run / f"iteration_{iteration:03d}" / "checkpoint")
    # Its student cannot be loaded: found only after the reset, set aside all the same.
    damage(run / "iteration_003" / "checkpoint" / "student" / "model.pt", "truncate")
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert sum("has no manifest" in w for w in warnings) == 2, result.stderr
    assert any("student/ cannot be loaded" in w and "damaged-1" in w for w in warnings)
    assert comparable(_summary(run)) == comparable(_summary(finished))


# --------------------------------------------------------------------------- other files


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_config_or_summary_stops_resume_with_one_line(
    finished: Path, tmp_path: Path, how: str
) -> None:
    run = _copy(finished, tmp_path, interrupted=False)
    damage(run / "summary.json", how)
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    if how == "delete":  # no summary: an interrupted run, resumed from its checkpoint
        assert result.exit_code == 0, result.output
        assert comparable(_summary(run)) == comparable(_summary(finished))
    else:
        assert result.exit_code == 2
        assert f"{run / 'summary.json'}" in _one_error_line(result)
    run = _copy(finished, tmp_path / "config")
    damage(run / "config.yaml", how)
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 2
    assert "config.yaml" in _one_error_line(result)


def _report_commands(run: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "report": runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "r")]),
        "analyze": runner.invoke(app, ["analyze", "dynamics", str(run)]),
        "export": runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "d.jsonl")]),
    }


# config.yaml and llm_usage.json are optional for reports (older runs, offline teachers):
# deleting them is no damage.
READ_BY_REPORTS = [
    (name, how)
    for name in ("summary.json", "iteration_002/report.json", "config.yaml", "llm_usage.json")
    for how in DAMAGES
    if how != "delete" or name in ("summary.json", "iteration_002/report.json")
]


@pytest.mark.parametrize(("name", "how"), READ_BY_REPORTS)
def test_report_analyze_export_name_a_damaged_file(
    finished: Path, tmp_path: Path, name: str, how: str
) -> None:
    run = _copy(finished, tmp_path, interrupted=False)
    if name == "llm_usage.json":  # as an LLM teacher leaves it
        (run / name).write_text(json.dumps({"teacher": "m", "usage": {}}) + "\n")
    damage(run / name, how)
    for command, result in _report_commands(run, tmp_path).items():
        assert result.exit_code == 2, (command, result.output)
        line = _one_error_line(result)
        shown = "summary.json" if how == "delete" and name == "summary.json" else str(run / name)
        assert shown in line, (command, line)


@pytest.mark.parametrize("how", DAMAGES)
def test_report_names_damaged_validation_results(finished: Path, tmp_path: Path, how: str) -> None:
    run = _copy(finished, tmp_path, interrupted=False)
    results = run / "iteration_003" / "val_results.jsonl"
    damage(results, how)
    result = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert str(results) in _one_error_line(result)


@pytest.mark.parametrize("how", DAMAGES)
def test_export_names_damaged_training_data(finished: Path, tmp_path: Path, how: str) -> None:
    run = _copy(finished, tmp_path, interrupted=False)
    data = run / "iteration_002" / "data.jsonl"
    damage(data, how)
    result = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 2, result.output
    assert str(data) in _one_error_line(result)
    assert not (tmp_path / "d.jsonl").exists()


def test_a_log_cut_mid_line_keeps_the_next_records_whole(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    log = run / "events.jsonl"
    log.write_bytes(log.read_bytes()[:-7])  # the last record cut short
    result = runner.invoke(app, ["run", "--resume", str(run), "--no-report"])
    assert result.exit_code == 0, result.output
    lines = log.read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "end"
    assert json.loads(lines[-2])["event"] == "resume"
