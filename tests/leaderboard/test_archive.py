from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.agents.oracle import ORACLE_REVISION
from dataenvgym.checkpoint import latest_checkpoint, read_checkpoint
from dataenvgym.cli import app
from dataenvgym.errors import ConfigError
from dataenvgym.leaderboard.archive import board_summary, load_archive
from dataenvgym.manifest import write_manifest
from dataenvgym.numerics import describe

runner = CliRunner()


def _suite_file(tmp_path: Path, tiny_student: dict[str, Any], steps: int = 6) -> Path:
    suite = {
        "name": "tiny",
        "domains": ["arithmetic"],
        "envs": ["skill-list"],
        "agents": ["no-state"],  # the oracle joins as the other reference
        "base": {
            "iterations": 2,
            "budget": 40,
            "trainer": {"steps_per_iteration": steps},
            "student_config": tiny_student,
            "pretrain": {"steps": 20, "examples": 400},
            "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
        },
    }
    path = tmp_path / f"suite-{steps}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _board(suite: str, seeds: str, out: Path, *extra: str) -> Any:
    """``dataenvgym leaderboard`` on ``suite`` and ``seeds`` into ``out``."""
    return runner.invoke(
        app, ["leaderboard", "--suite", suite, "--seeds", seeds, "--out", str(out), *extra]
    )


def _rows(board_json: Path) -> dict[str, dict[str, Any]]:
    return {r["agent"]: r for r in json.loads(board_json.read_text())["rows"]}


def _seed_0_board(tmp_path: Path, tiny_student: dict[str, Any]) -> tuple[str, Path]:
    """The tiny suite's board of seed 0, run into ``tmp_path/board``: (suite file, board)."""
    suite = str(_suite_file(tmp_path, tiny_student))
    out = tmp_path / "board"
    first = _board(suite, "0", out)
    assert first.exit_code == 0, first.output
    return suite, out


def _run_folder(out: Path, agent: str) -> tuple[Path, dict[str, Any]]:
    """The one run folder of ``agent`` on the board in ``out``, and its summary."""
    (folder,) = [f for f in (out / "runs").iterdir() if f"-{agent}-" in f.name]
    return folder, json.loads((folder / "summary.json").read_text())


def test_boards_run_apart_merge_into_one_without_their_run_folders(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite = str(_suite_file(tmp_path, tiny_student))
    for seed in (0, 1):
        ran = _board(suite, str(seed), tmp_path / f"s{seed}")
        assert ran.exit_code == 0, ran.output
    both = tmp_path / "both"
    archives = [str(tmp_path / f"s{seed}" / "leaderboard.json") for seed in (0, 1)]
    merged = _board(suite, "0,1", both, "--no-run", "--merge", archives[0], "--merge", archives[1])
    assert merged.exit_code == 0, merged.output
    assert "0 episodes (no-state, oracle) and 4 merged from 2 board(s)" in merged.output
    assert "4 episodes on the board (4 reused, 4 of them merged, 0 run now)" in merged.output
    assert not (both / "runs").exists() or not any((both / "runs").iterdir())

    rows = _rows(both / "leaderboard.json")
    assert rows["no-state"]["seeds"] == 2 and rows["oracle"]["seeds"] == 2
    gains = [
        _rows(tmp_path / f"s{seed}" / "leaderboard.json")["no-state"]["gain_mean"]
        for seed in (0, 1)
    ]
    assert rows["no-state"]["gain_mean"] == pytest.approx(sum(gains) / 2)
    assert rows["oracle"]["privileged"] is True  # the archive keeps the privileged mark
    # The merged board keeps its runs too: it rebuilds from its own JSON alone.
    again = _board(
        suite, "0,1", tmp_path / "again", "--no-run", "--merge", str(both / "leaderboard.json")
    )
    assert again.exit_code == 0, again.output
    assert _rows(tmp_path / "again" / "leaderboard.json") == rows


def test_a_finished_run_folder_wins_and_other_settings_are_not_merged(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite, out = _seed_0_board(tmp_path, tiny_student)
    board_json = out / "leaderboard.json"
    payload = json.loads(board_json.read_text())
    truth = _rows(board_json)["no-state"]["final_test_mean"]
    for record in payload["runs"]:
        record["summary"]["final"]["test_accuracy"] = 0.999  # an archive that disagrees
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(payload))

    local = _board(suite, "0", out, "--no-run", "--merge", str(tampered))
    assert local.exit_code == 0, local.output
    assert _rows(board_json)["no-state"]["final_test_mean"] == pytest.approx(truth)

    # A suite of other training settings has other episodes: the archive does not stand in.
    other = str(_suite_file(tmp_path, tiny_student, steps=7))
    elsewhere = _board(other, "0", tmp_path / "other", "--no-run", "--merge", str(tampered))
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "0 episodes on the board" in elsewhere.output and "2 missing" in elsewhere.output


def test_an_archive_keeps_only_what_a_board_reads_and_bad_files_are_one_line_errors(
    tmp_path: Path,
) -> None:
    summary = {
        "privileged": False,
        "initial": {"test_accuracy": 0.3, "per_skill": {"a": 0.1}},
        "final": {"test_accuracy": 0.5, "per_skill": {"a": 0.4}},
        "total_training_data": 80,
        "iterations": [{"iteration": 1, "num_total_data": 80, "test_accuracy": 0.5, "plan": "…"}],
        "wall_time_s": 12.0,
    }
    assert board_summary(summary) == {
        "privileged": False,
        "initial": {"test_accuracy": 0.3},
        "final": {"test_accuracy": 0.5},
        "total_training_data": 80,
        "iterations": [{"iteration": 1, "num_total_data": 80, "test_accuracy": 0.5}],
    }
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"rows": [], "overall": [], "failed": []}))
    with pytest.raises(ConfigError, match="holds no runs"):
        load_archive(old)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"runs": [{"config": {"budget": -1}, "summary": summary}]}))
    with pytest.raises(ConfigError, match="run 0 is not a valid archived run"):
        load_archive(broken)
    result = runner.invoke(app, ["leaderboard", "--domains", "arithmetic", "--merge", str(old)])
    assert result.exit_code == 2 and "holds no runs" in result.output


def test_runs_of_an_older_oracle_revision_are_run_again_not_reused(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite, out = _seed_0_board(tmp_path, tiny_student)
    folder, summary = _run_folder(out, "oracle")
    assert summary["agent_revision"] == ORACLE_REVISION
    payload = json.loads((out / "leaderboard.json").read_text())
    (record,) = [r for r in payload["runs"] if r["config"]["agent"] == "oracle"]
    assert record["summary"]["agent_revision"] == ORACLE_REVISION

    # An oracle run of an older revision, in a run folder and in an archive.
    summary["agent_revision"] = ORACLE_REVISION - 1
    (folder / "summary.json").write_text(json.dumps(summary))
    record["summary"]["agent_revision"] = None  # written before revisions were kept
    old_board = tmp_path / "old.json"
    old_board.write_text(json.dumps(payload))

    merged = _board(suite, "0", tmp_path / "merged", "--no-run", "--merge", str(old_board))
    assert merged.exit_code == 0, merged.output
    assert "1 archived runs of an older agent revision or other numerics left out" in merged.output
    assert "1 episodes on the board" in merged.output and "1 missing" in merged.output

    listed = _board(suite, "0", out, "--no-run")
    assert "1 missing" in listed.output  # the old folder does not count either ...
    again = _board(suite, "0", out)  # ... and is set aside, kept, and run again
    assert again.exit_code == 0, again.output
    assert "1 reused, 1 run now" in again.output
    kept = folder.with_name(f"{folder.name}.revision-{ORACLE_REVISION - 1}")
    assert json.loads((kept / "summary.json").read_text())["agent_revision"] == ORACLE_REVISION - 1
    assert json.loads((folder / "summary.json").read_text())["agent_revision"] == ORACLE_REVISION


def test_runs_with_other_numerics_are_run_again_and_not_merged(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite, out = _seed_0_board(tmp_path, tiny_student)
    folder, summary = _run_folder(out, "no-state")
    assert summary["numerics"]["cpu_capability"] == describe()["cpu_capability"]
    payload = json.loads((out / "leaderboard.json").read_text())
    assert all("numerics" in r["summary"] for r in payload["runs"])

    # The no-state run as another machine's widest instruction set would have made it.
    other = {**summary["numerics"], "cpu_capability": "AVX512-elsewhere"}
    (folder / "summary.json").write_text(json.dumps({**summary, "numerics": other}))
    for record in payload["runs"]:
        record["summary"]["numerics"] = other
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(payload))

    merged = _board(suite, "0", tmp_path / "merged", "--no-run", "--merge", str(elsewhere))
    assert merged.exit_code == 0, merged.output
    assert "2 archived runs of an older agent revision or other numerics left out" in (
        merged.output
    )
    # Native numerics do not check: the same archive merges whole.
    native = _board(
        suite,
        "0",
        tmp_path / "native",
        "--no-run",
        "--numerics",
        "native",
        "--merge",
        str(elsewhere),
    )
    assert native.exit_code == 0 and "2 episodes on the board" in native.output

    again = _board(suite, "0", out)  # set aside, kept, and run again with this board's
    assert again.exit_code == 0, again.output
    assert "1 reused, 1 run now" in again.output
    kept = folder.with_name(f"{folder.name}.numerics-AVX512-elsewhere")
    assert json.loads((kept / "summary.json").read_text())["numerics"] == other
    rerun = json.loads((folder / "summary.json").read_text())["numerics"]
    assert rerun["cpu_capability"] == describe()["cpu_capability"]
    bad = _board(suite, "0", out, "--numerics", "fast")
    assert bad.exit_code == 2 and "portable or native" in bad.output


def test_an_interrupted_run_begun_with_other_numerics_or_revision_is_run_again(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite, out = _seed_0_board(tmp_path, tiny_student)
    folder, summary = _run_folder(out, "no-state")
    saved = latest_checkpoint(folder)
    assert saved is not None
    (folder / "summary.json").unlink()  # interrupted after its last checkpoint
    checkpoint = read_checkpoint(saved)
    other = {**checkpoint.numerics, "cpu_capability": "AVX512-elsewhere"}
    checkpoint.numerics = other
    (saved / "state.pkl").write_bytes(pickle.dumps(checkpoint))
    write_manifest(saved)  # as that writer would have recorded it

    again = _board(suite, "0", out)
    assert again.exit_code == 0, again.output
    assert "ran " in again.output and "resumed" not in again.output
    kept = folder.with_name(f"{folder.name}.numerics-AVX512-elsewhere")
    kept_checkpoint = latest_checkpoint(kept)
    assert kept_checkpoint is not None and read_checkpoint(kept_checkpoint).numerics == other
    rerun = json.loads((folder / "summary.json").read_text())
    assert rerun["numerics"]["cpu_capability"] == describe()["cpu_capability"]
    assert rerun["final"] == summary["final"]  # run afresh here: the same episode

    # Interrupted with this board's own numerics, a run is continued, not run again.
    (folder / "summary.json").unlink()
    resumed = _board(suite, "0", out)
    assert resumed.exit_code == 0 and "resumed " in resumed.output, resumed.output

    # Begun by another revision of the agent: set aside and run again, like a finished one.
    (folder / "summary.json").unlink()
    saved = latest_checkpoint(folder)
    assert saved is not None
    checkpoint = read_checkpoint(saved)
    assert checkpoint.agent is not None
    agent = pickle.loads(checkpoint.agent)
    agent.revision = 7
    checkpoint.agent = pickle.dumps(agent)
    (saved / "state.pkl").write_bytes(pickle.dumps(checkpoint))
    write_manifest(saved)  # as that writer would have recorded it
    older = _board(suite, "0", out)
    assert older.exit_code == 0 and "ran " in older.output, older.output
    assert (folder.with_name(f"{folder.name}.revision-7") / "iteration_001").is_dir()
    assert json.loads((folder / "summary.json").read_text())["agent_revision"] is None
