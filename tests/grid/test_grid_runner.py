"""The grid runner's parts: progress over the grid, folders as bytes, failures that do not
stop the other episodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dataenvgym.config import RunConfig
from dataenvgym.grid import GridJob, GridOptions, GridProgress, Outcome, base_key, run_grid
from dataenvgym.grid.runner import remote_episode, worker_environment
from dataenvgym.grid.transfer import add_missing, pack, place, unpack


def test_progress_counts_the_grid_and_estimates_from_episodes_run_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    progress = GridProgress(total=10, done=4, reused=2, failed=1, running=2, started=0.0)
    monkeypatch.setattr("dataenvgym.grid.progress.time.monotonic", lambda: 90.0)
    # 3 episodes ran now in 90 s: 5 left take 150 s more; read-back ones cost nothing.
    assert progress.estimate() == pytest.approx(150.0)
    assert progress.line() == "4/10 done, 2 running, 1 failed; 1m30s elapsed, about 2m30s left"
    assert GridProgress(total=3, started=0.0).estimate() is None
    finished = GridProgress(total=2, done=2, started=0.0)
    assert "left" not in finished.line()


def test_a_folder_travels_as_bytes_and_lands_whole(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "checkpoints" / "iter_1").mkdir(parents=True)
    (source / "config.yaml").write_text("seed: 1\n")
    (source / "checkpoints" / "iter_1" / "student.pt").write_bytes(b"\x00\x01" * 100)
    unpack(pack(source), tmp_path / "copy")
    assert (tmp_path / "copy" / "config.yaml").read_text() == "seed: 1\n"
    assert (tmp_path / "copy" / "checkpoints" / "iter_1" / "student.pt").read_bytes() == (
        b"\x00\x01" * 100
    )


def test_a_run_folder_that_comes_back_replaces_the_old_one_and_keeps_what_was_set_aside(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    (runs / "ep-s0").mkdir(parents=True)
    (runs / "ep-s0" / "stale.txt").write_text("old")
    (runs / "ep-s0.revision-1").mkdir()  # set aside on an earlier day
    worker = tmp_path / "worker"
    (worker / "ep-s0").mkdir(parents=True)
    (worker / "ep-s0" / "summary.json").write_text("{}")
    (worker / "ep-s0.revision-1").mkdir()
    (worker / "ep-s0.revision-1" / "stale.txt").write_text("old")
    written = place(pack(worker), runs / "ep-s0")
    assert sorted(p.name for p in (runs / "ep-s0").iterdir()) == ["summary.json"]
    # The worker's set-aside copy must not overwrite the one already here.
    assert (runs / "ep-s0.revision-1-2" / "stale.txt").read_text() == "old"
    assert sorted(p.name for p in written) == ["ep-s0", "ep-s0.revision-1-2"]
    assert sorted(p.name for p in runs.iterdir()) == [
        "ep-s0",
        "ep-s0.revision-1",
        "ep-s0.revision-1-2",
    ]


def test_a_shared_base_student_is_added_only_where_missing(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "arithmetic-abc").mkdir(parents=True)
    (base / "arithmetic-abc" / "model.pt").write_text("new")
    cache = tmp_path / "cache"
    (cache / "arithmetic-old").mkdir(parents=True)
    assert add_missing(pack(base), cache) == ["arithmetic-abc"]
    (cache / "arithmetic-abc" / "model.pt").write_text("mine")
    assert add_missing(pack(base), cache) == []
    assert (cache / "arithmetic-abc" / "model.pt").read_text() == "mine"
    assert sorted(p.name for p in cache.iterdir()) == ["arithmetic-abc", "arithmetic-old"]


def _jobs(tmp_path: Path) -> list[GridJob]:
    return [
        GridJob(RunConfig(seed=seed), tmp_path / f"ep-s{seed}", {"seed": seed})
        for seed in (0, 1, 2)
    ]


def _fake_task(config: dict[str, Any], folder: str, threads: int) -> Outcome:
    seed = config["seed"]
    if seed == 1:
        raise RuntimeError("boom\nthe last line says why")
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / "summary.json").write_text(str(seed))
    return ("reused" if seed == 2 else "ran"), {"seed": seed}


def test_a_crashed_episode_is_reported_with_its_settings_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str, str]] = []

    def report(job: GridJob, outcome: Outcome, progress: GridProgress) -> None:
        seen.append((job.describe(), outcome[0], progress.line().split(";")[0]))

    outcomes = run_grid(_jobs(tmp_path), _fake_task, GridOptions(), report=report)
    assert [o[0] for o in outcomes] == ["ran", "failed", "reused"]
    assert outcomes[1][1] == "RuntimeError: the last line says why"
    assert seen == [
        ("seed=0", "ran", "1/3 done, 0 running, 0 failed"),
        ("seed=1", "failed", "1/3 done, 0 running, 1 failed"),
        ("seed=2", "reused", "2/3 done, 0 running, 1 failed"),
    ]


def test_a_remote_episode_runs_in_a_private_folder_and_sends_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAENVGYM_CACHE", str(tmp_path / "cache"))
    before = tmp_path / "before"
    before.mkdir()
    (before / "config.yaml").write_text("seed: 0\n")
    outcome, back = remote_episode(
        _fake_task, RunConfig(seed=0).model_dump(mode="json"), "ep-s0", 1, pack(before), b""
    )
    assert outcome == ("ran", {"seed": 0})
    assert back is not None
    place(back, tmp_path / "runs" / "ep-s0")
    landed = tmp_path / "runs" / "ep-s0"
    assert sorted(p.name for p in landed.iterdir()) == ["config.yaml", "summary.json"]
    # A crash inside the worker is an outcome, not a lost task.
    crashed, _ = remote_episode(
        _fake_task, RunConfig(seed=1).model_dump(mode="json"), "ep-s1", 1, None, b""
    )
    assert crashed == ("failed", "RuntimeError: the last line says why")


def test_ray_workers_compute_with_the_boards_numerics_and_one_thread_count() -> None:
    env = worker_environment(GridOptions(threads=2, numerics="portable"))
    assert env["OMP_NUM_THREADS"] == "2"
    from dataenvgym.numerics import numerics_environment

    assert numerics_environment("portable").items() <= env.items()


def test_episodes_of_one_base_student_share_its_key() -> None:
    a = RunConfig(seed=0, env="skill-list", agent="no-state")
    b = RunConfig(seed=0, env="skill-tree", agent="with-state")
    assert base_key(a) == base_key(b)
    assert base_key(a) != base_key(RunConfig(seed=1))


@pytest.mark.parametrize("command", [["leaderboard", "--domains", "arithmetic"], ["sweep"]])
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--address", "auto"], "--address joins a Ray cluster; add --executor ray"),
        (["--executor", "slurm"], "unknown executor 'slurm'; choose local or ray"),
    ],
)
def test_executor_flags_that_do_not_fit_are_one_line_errors(
    command: list[str], flags: list[str], message: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from dataenvgym.cli import app

    if command == ["sweep"]:
        spec = tmp_path / "sweep.yaml"
        spec.write_text("grid: {seed: [0]}\n")
        command = ["sweep", str(spec)]
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "out"), *flags])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()
