from __future__ import annotations

from typing import Any

from dataenvgym.config import RunConfig
from dataenvgym.domains.arithmetic.domain import ArithmeticDomain
from dataenvgym.leaderboard.archive import board_summary
from dataenvgym.leaderboard.board import build_board
from dataenvgym.leaderboard.render import markdown
from dataenvgym.leaderboard.suite import LeaderboardSuite, current_domain_version, is_current


def _summary(gain: float, domain_version: str | None = "1") -> dict[str, Any]:
    out: dict[str, Any] = {
        "privileged": False,
        "agent_revision": None,
        "initial": {"test_accuracy": 0.3},
        "final": {"test_accuracy": 0.3 + gain},
        "total_training_data": 200,
        "iterations": [
            {"num_total_data": 100, "test_accuracy": 0.3 + gain / 2},
            {"num_total_data": 200, "test_accuracy": 0.3 + gain},
        ],
    }
    if domain_version is not None:
        out["domain_version"] = domain_version
    return out


def test_a_run_of_another_domain_version_is_not_a_run_of_the_episode(monkeypatch) -> None:
    config = RunConfig(domain="arithmetic", env="skill-tree", agent="no-state", seed=0)
    assert current_domain_version(config) == ArithmeticDomain.version
    assert is_current(config, _summary(0.1, ArithmeticDomain.version))
    # A summary written before versions were kept is of version 1 of every built-in domain.
    assert is_current(config, _summary(0.1, None)) == (ArithmeticDomain.version == "1")
    monkeypatch.setattr(ArithmeticDomain, "version", "99")
    assert not is_current(config, _summary(0.1, "1"))
    assert is_current(config, _summary(0.1, "99"))


def test_the_domain_version_travels_in_a_boards_archive() -> None:
    assert board_summary(_summary(0.1, "7"))["domain_version"] == "7"


def test_the_standard_board_ranks_the_weakest_first_rule_too() -> None:
    assert "weakest-first" in LeaderboardSuite().all_agents()


def test_a_setting_that_repeats_another_for_every_agent_is_counted_once() -> None:
    tree = ("arithmetic", "skill-tree", 384, 5, "tiny")
    open_ended = ("arithmetic", "open-ended", 384, 5, "tiny")
    listed = ("arithmetic", "skill-list", 384, 5, "tiny")
    results = []
    for seed, (ns, ws, orc) in enumerate([(0.10, 0.15, 0.20), (0.12, 0.16, 0.22)]):
        for setting in (tree, open_ended):  # the very same episodes in both
            results += [
                (setting, "no-state", seed, _summary(ns)),
                (setting, "with-state", seed, _summary(ws)),
                (setting, "oracle", seed, _summary(orc)),
            ]
        results += [
            (listed, "no-state", seed, _summary(ns)),  # the baseline repeats, others do not
            (listed, "with-state", seed, _summary(ws + 0.03)),
            (listed, "oracle", seed, _summary(orc + 0.01)),
        ]
    board = build_board(results)
    repeats = {(agent, setting[1], earlier[1]) for agent, setting, earlier in board.repeats}
    assert repeats == {
        ("no-state", "open-ended", "skill-tree"),
        ("with-state", "open-ended", "skill-tree"),
        ("oracle", "open-ended", "skill-tree"),
        ("no-state", "skill-list", "skill-tree"),
    }
    overall = {o["agent"]: o for o in board.overall()}
    # skill-tree and skill-list count; open-ended repeats skill-tree for all three.
    assert overall["with-state"]["settings"] == 2
    assert "no-state played the same episodes in arithmetic / open-ended" in markdown(board)
