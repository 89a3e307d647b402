from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.leaderboard.board import build_board
from dataenvgym.leaderboard.render import markdown, records, rich_table, write_board
from dataenvgym.leaderboard.suite import (
    LeaderboardSuite,
    distinct_bases,
    is_privileged,
    run_suite,
)

runner = CliRunner()

CUSTOM_AGENT = '''
from dataenvgym.agents.base import Agent
from dataenvgym.agents.policies import NoStatePolicy
from dataenvgym.agents.procedural import ProceduralEngine


def make_teacher(env, domain):
    """A user's agent: the uniform policy under another name."""
    return Agent(policy=NoStatePolicy(domain.skills()), engine=ProceduralEngine(domain))
'''


def _tiny_base(tiny_student: dict[str, Any]) -> dict[str, Any]:
    return {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 6},
        "student_config": tiny_student,
        "pretrain": {"steps": 20, "examples": 400},
        "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
    }


def test_leaderboard_runs_reuses_and_shows_a_custom_agent(
    tmp_path: Path, tiny_student: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_teachers.py").write_text(CUSTOM_AGENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = {
        "name": "tiny",
        "domains": ["arithmetic"],
        "envs": ["skill-list"],
        "seeds": [1],
        "base": _tiny_base(tiny_student),
    }
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    out = tmp_path / "board"
    args = ["leaderboard", "--suite", str(suite_file), "--out", str(out)]
    args += ["--agents", "with-state,my_teachers:make_teacher"]

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    # with-state, the custom agent, and the two references it adds: 4 agents × 1 seed.
    assert len(list((out / "runs").iterdir())) == 4
    assert "4 run now" in first.output

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "4 reused, 0 run now" in second.output

    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    by_agent = {row["agent"]: row for row in rows}
    assert set(by_agent) == {"with-state", "my_teachers:make_teacher", "no-state", "oracle"}
    assert by_agent["oracle"]["privileged"] == "True"
    assert by_agent["with-state"]["privileged"] == "False"
    assert by_agent["no-state"]["score_note"] == "reference 0"
    page = (out / "leaderboard.html").read_text()
    assert "my_teachers:make_teacher" in page and "privileged" in page
    assert "| domain | env | budget |" in (out / "leaderboard.md").read_text()
    board = json.loads((out / "leaderboard.json").read_text())
    assert len(board["rows"]) == 4


def test_a_folder_with_other_settings_is_not_reused(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite = LeaderboardSuite(
        domains=["arithmetic"],
        envs=["skill-tree"],
        seeds=[0],
        agents=["no-state"],
        base=_tiny_base(tiny_student),
    )
    episodes = [e for e in suite.episodes() if e.config.agent == "no-state"]
    assert [r.status for r in run_suite(episodes, tmp_path)] == ["ran"]
    assert [r.status for r in run_suite(episodes, tmp_path)] == ["reused"]
    changed = suite.model_copy(
        update={"base": {**suite.base, "trainer": {"steps_per_iteration": 7}}}
    )
    (episode,) = [e for e in changed.episodes() if e.config.agent == "no-state"]
    # Same folder name (budget, iterations and seed are equal), different training settings.
    assert episode.folder_name == episodes[0].folder_name
    (result,) = run_suite([episode], tmp_path)
    assert result.status == "failed" and "other settings" in result.error


def test_bad_suite_settings_are_one_line_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["leaderboard", "--agents", "nobody", "--domains", "arithmetic"])
    assert result.exit_code == 2 and "unknown agent 'nobody'" in result.output
    result = runner.invoke(app, ["leaderboard", "--agents", "no_such_module:f"])
    assert result.exit_code == 2 and "could not load agent" in result.output
    bad = tmp_path / "suite.yaml"
    bad.write_text("base: {seed: 3}\n")
    result = runner.invoke(app, ["leaderboard", "--suite", str(bad), "--domains", "arithmetic"])
    assert result.exit_code == 2 and "set by the suite itself" in result.output


def _summary(gain: float, privileged: bool = False, data: int = 200) -> dict[str, Any]:
    return {
        "privileged": privileged,
        "initial": {"test_accuracy": 0.3},
        "final": {"test_accuracy": 0.3 + gain},
        "total_training_data": data,
        "iterations": [
            {"num_total_data": 100, "test_accuracy": 0.3 + gain / 2},
            {"num_total_data": 200, "test_accuracy": 0.3 + gain},
        ],
    }


def test_board_scores_and_flags_settings_that_cannot_tell_agents_apart() -> None:
    good = ("arithmetic", "skill-tree", 384, 5, "tiny")
    flat = ("arithmetic", "skill-list", 384, 5, "tiny")
    results = []
    for seed, (ns, ws, orc) in enumerate([(0.10, 0.15, 0.20), (0.12, 0.16, 0.22)]):
        results += [
            (good, "no-state", seed, _summary(ns)),
            (good, "with-state", seed, _summary(ws)),
            (good, "oracle", seed, _summary(orc, privileged=True)),
            (flat, "no-state", seed, _summary(0.10)),
            (flat, "with-state", seed, _summary(0.12)),
            (flat, "oracle", seed, _summary(0.09, privileged=True)),
        ]
    board = build_board(results)
    rows = {(r.setting, r.agent): r for r in board.rows}
    scored = rows[(good, "with-state")].score
    assert scored is not None and scored.score is not None
    assert scored.score.mean == pytest.approx((0.05 / 0.10 + 0.04 / 0.10) / 2)
    unscored = rows[(flat, "with-state")].score
    assert unscored is not None and unscored.score is None
    assert rows[(good, "oracle")].privileged and not rows[(good, "with-state")].privileged
    gap = rows[(good, "with-state")].paired_gap  # oracle − no-state, seed by seed
    assert gap is not None and gap.n == 2
    assert gap.mean == pytest.approx(0.10) and gap.half_width == pytest.approx(0.0)
    flat_gap = rows[(flat, "oracle")].paired_gap
    assert flat_gap is not None and flat_gap.mean == pytest.approx(-0.01)
    text = markdown(board)
    assert "arithmetic / skill-tree / 5×384 / tiny +10.0 ± 0.0" in text
    assert "cannot tell agents apart" in text.lower() and "arithmetic / skill-list" in text
    assert "oracle 🔒 (reference 1)" in text
    overall = {o["agent"]: o for o in board.overall()}
    assert overall["with-state"]["settings_scored"] == 1 and overall["with-state"]["settings"] == 2


def test_the_board_shows_how_much_data_each_agent_really_trained_on() -> None:
    setting = ("code", "skill-tree", 384, 3, "tiny")
    results = [
        (setting, "no-state", 0, _summary(0.10, data=1018)),
        (setting, "no-state", 1, _summary(0.12, data=1000)),
        (setting, "oracle", 0, _summary(0.15, privileged=True, data=1146)),
        (setting, "oracle", 1, _summary(0.16, privileged=True, data=1138)),
    ]
    board = build_board(results)
    rows = {r.agent: r for r in board.rows}
    assert rows["no-state"].data_trained == pytest.approx(1009)
    assert rows["oracle"].data_trained == pytest.approx(1142)
    text = markdown(board)
    assert "| data trained |" in text and "| 1009 |" in text and "| 1142 |" in text
    old = build_board(
        [
            (
                setting,
                "no-state",
                0,
                {"initial": {"test_accuracy": 0.3}, "final": {"test_accuracy": 0.4}},
            )
        ]
    )
    assert "| 0.400 |  |" in markdown(old)  # a summary without the count leaves it empty


def test_the_board_says_what_each_setting_cost_without_pretraining() -> None:
    code = ("code", "skill-tree", 384, 3, "tiny")
    vqa = ("vqa", "skill-tree", 1536, 5, "tiny-vqa")

    def timed(gain: float, wall: float, base: float = 0.0) -> dict[str, Any]:
        return {**_summary(gain), "wall_seconds": wall, "base_student_seconds": base}

    results = [
        (code, "no-state", 0, timed(0.10, 130.0, base=30.0)),  # pretrained in this run
        (code, "no-state", 1, timed(0.12, 120.0)),
        (code, "oracle", 0, timed(0.15, 400.0)),
        (code, "oracle", 1, timed(0.16, 440.0)),
        (vqa, "no-state", 0, _summary(0.10)),  # written before summaries kept the time
    ]
    board = build_board(results)
    rows = {(r.setting, r.agent): r for r in board.rows}
    assert rows[(code, "no-state")].episode_seconds == pytest.approx(110.0)
    assert rows[(code, "oracle")].episode_seconds == pytest.approx(420.0)
    assert math.isnan(rows[(vqa, "no-state")].episode_seconds)
    assert board.episode_seconds()[code] == pytest.approx(2 * 110.0 + 2 * 420.0)
    text = markdown(board)
    assert "code / skill-tree / 3×384 / tiny 18 min; 0.3 h in all." in text
    assert "vqa / skill-tree" not in text.split("Episode time per setting")[1].split("\n")[0]
    by_agent = {r["agent"]: r for r in records(board) if r["domain"] == "code"}
    assert by_agent["oracle"]["episode_seconds_mean"] == pytest.approx(420.0)
    vqa_row = next(r for r in records(board) if r["domain"] == "vqa")
    assert vqa_row["episode_seconds_mean"] is None


def test_a_gap_within_seed_noise_gives_an_unbounded_score_written_as_null(
    tmp_path: Path,
) -> None:
    setting = ("code", "skill-tree", 384, 3, "tiny")
    results = []
    for seed, (ns, ws, orc) in enumerate(
        [(0.10, 0.12, 0.16), (0.20, 0.21, 0.19), (0.15, 0.16, 0.18)]
    ):
        results += [
            (setting, "no-state", seed, _summary(ns)),
            (setting, "with-state", seed, _summary(ws)),
            (setting, "oracle", seed, _summary(orc, privileged=True)),
        ]
    board = build_board(results)
    row = next(r for r in board.rows if r.agent == "with-state")
    assert row.paired_gap is not None and row.paired_gap.low < 0 < row.oracle_gap
    assert row.score is not None and row.score.score is not None and not row.score.bounded
    assert f"{row.score.score.mean:.2f} [unbounded]" in markdown(board)
    console = Console(width=200, record=True)
    console.print(rich_table(board))
    assert f"{row.score.score.mean:.2f} [unbounded]" in console.export_text()
    paths = write_board(board, tmp_path, "noisy")
    record = next(
        r for r in json.loads(paths["json"].read_text())["rows"] if r["agent"] == "with-state"
    )
    assert record["score_low"] is None and record["score_high"] is None
    assert record["score_mean"] == pytest.approx(row.score.score.mean)
    assert "within seed noise" in record["score_note"]


def test_parallel_suite_warms_each_base_once_and_runs_the_oracle_first(
    tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    suite = LeaderboardSuite(
        domains=["arithmetic"],
        envs=["skill-list"],
        seeds=[0, 1],
        agents=["no-state"],
        base=_tiny_base(tiny_student),
    )
    episodes = [e for e in suite.episodes() if e.config.agent != "with-state"]
    bases = distinct_bases(episodes)
    # no-state and the oracle share a base per seed: two seeds, two bases.
    assert sorted(e.config.seed for e in bases) == [0, 1]
    assert sorted(is_privileged(e) for e in episodes) == [False, False, True, True]

    results = run_suite(episodes, tmp_path, workers=2)
    assert [r.status for r in results] == ["ran"] * len(episodes)
    # Results come back in the suite's order, whatever order the pool ran them in.
    assert [r.episode.folder_name for r in results] == [e.folder_name for e in episodes]
    assert all((tmp_path / "runs" / e.folder_name / "summary.json").is_file() for e in episodes)


def test_a_suite_runs_vqa_at_its_students_episode_defaults_unless_it_says_otherwise() -> None:
    suite = LeaderboardSuite(domains=["vqa", "arithmetic"], envs=["skill-tree"], seeds=[0])
    by_domain = {e.config.domain: e.config for e in suite.episodes()}
    assert (by_domain["vqa"].budget, by_domain["vqa"].trainer.steps_per_iteration) == (1536, 400)
    arithmetic = by_domain["arithmetic"]
    assert (arithmetic.budget, arithmetic.trainer.steps_per_iteration) == (384, None)
    custom = LeaderboardSuite(
        domains=["vqa"], envs=["skill-tree"], seeds=[0], per_domain={"vqa": {"budget": 64}}
    )
    (config,) = {e.config.budget: e.config for e in custom.episodes()}.values()
    assert (config.budget, config.trainer.steps_per_iteration) == (64, 400)


def test_the_standard_suite_stops_code_and_tool_use_before_their_ceiling() -> None:
    suite = LeaderboardSuite(domains=["arithmetic", "code", "tool-use"], envs=["skill-tree"])
    iterations = {e.config.domain: e.config.iterations for e in suite.episodes()}
    assert iterations == {"arithmetic": 5, "code": 3, "tool-use": 3}
    labels = {e.config.domain: e.folder_name for e in suite.episodes()}
    assert "-b384-i3-" in labels["code"] and "-b384-i5-" in labels["arithmetic"]
    # A suite that sets per_domain itself defines it whole.
    own = LeaderboardSuite(domains=["code"], envs=["skill-tree"], per_domain={})
    assert {e.config.iterations for e in own.episodes()} == {5}
