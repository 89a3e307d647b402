"""Broken domains fail loudly: one line per violation, exit code 2, nothing trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.domains.contract import DomainContractError, check_domain
from dataenvgym.registry import domain_violations, make_env

runner = CliRunner()


HERE = Path(__file__).parent


@pytest.fixture
def user_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """``broken_domains`` importable the way a user's own module is (on the path)."""
    monkeypatch.syspath_prepend(str(HERE))
    return "broken_domains"


#: factory in broken_domains -> (method named in the first line, text the line must hold)
BROKEN: dict[str, tuple[str, str]] = {
    "generator_dicts": ("generate", "returned a dict, not a dataenvgym.types.TrainingDatum"),
    "scorer_raises": ("score", "raised ValueError: cannot parse the answer"),
    "scorer_tuple": ("score", "returned tuple"),
    "empty_validation": ("splits", "validation split is empty"),
    "validation_is_test": ("splits", "validation and test overlap"),
    "unknown_subskill": ("splits", "subskill 'rev/four' is not in skills()"),
    "long_answers": ("splits", "answer of 14 characters; student 'tiny' writes at most 8"),
    "non_ascii": ("splits", "characters '×' are outside the alphabet"),
    "long_context": ("splits", "student 'tiny' fits at most 45"),
    "verifier_rejects_generator": ("generate", "its own verify rejects it"),
    "verify_returns_bool": ("verify", "returned bool True"),
    "gold_scored_wrong": ("score", "scores the item's own gold answer as wrong"),
    "generate_too_many": ("generate", "returned 5 data for count=2"),
    "items_of_another_domain": ("splits", "item's domain is 'other', not 'mini'"),
    "mix_unknown_key": ("pretraining_mix", "key 'nope/x' is not a 'skill/subskill'"),
    "splits_raise": ("splits", "raised RuntimeError: data file missing"),
    "skills_empty": ("skills", "expected a non-empty list"),
    "duplicate_ids": ("splits", "id repeated within the validation split"),
    "version_int": ("version", "declare it as a str"),
    "no_verify": ("verify", "is missing"),
}
#: factories that cannot even make a domain: the line names the factory
UNBUILDABLE = {
    "returns_none": "returned None; return a domain instance",
    "raises": "raised KeyError",
    "not_callable": "is a int, not a factory",
    "no_such_attribute": "could not load domain",
}


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("factory", sorted(BROKEN))
def test_check_domain_names_domain_method_and_item_and_exits_2(
    factory: str, user_module: str
) -> None:
    method, text = BROKEN[factory]
    result = runner.invoke(app, ["check-domain", f"{user_module}:{factory}"])
    assert result.exit_code == 2, result.output
    lines = _error_lines(result.output)
    assert lines, result.output
    first = lines[0]
    assert first.startswith("error: domain 'mini'") or first.startswith("error: domain 'noverify'")
    assert f": {method}: " in first and text in first, first
    assert "Traceback" not in result.output
    # Items are named where the violation is about one.
    if method in {"splits", "score", "generate", "verify"} and factory not in {
        "empty_validation",
        "no_verify",
    }:
        assert "(item " in first, first


@pytest.mark.parametrize("factory", sorted(UNBUILDABLE))
def test_a_factory_that_cannot_make_a_domain_is_one_line(factory: str, user_module: str) -> None:
    result = runner.invoke(app, ["check-domain", f"{user_module}:{factory}"])
    assert result.exit_code == 2, result.output
    (line,) = _error_lines(result.output)
    assert UNBUILDABLE[factory] in line and f"{user_module}:{factory}" in line


@pytest.mark.parametrize("factory", sorted([*BROKEN, *UNBUILDABLE]))
def test_run_refuses_a_broken_domain_before_training(
    factory: str, user_module: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["run", "--domain", f"{user_module}:{factory}", "--out", str(out), "--no-report"]
    )
    assert result.exit_code == 2, result.output
    (line,) = _error_lines(result.output)
    expected = BROKEN[factory][1] if factory in BROKEN else UNBUILDABLE[factory]
    assert expected in line
    assert not out.exists()  # nothing written, nothing trained


def test_every_violation_is_its_own_line(user_module: str) -> None:
    # Long answers break the splits and the generated data: two lines, each one whole.
    result = runner.invoke(app, ["check-domain", f"{user_module}:long_answers"])
    lines = _error_lines(result.output)
    assert len(lines) == 2
    assert ": splits: " in lines[0] and ": generate: " in lines[1]
    assert "breaks its contract in 2 way(s)" in result.output


def test_the_student_limits_come_from_its_config(user_module: str, tmp_path: Path) -> None:
    # The same 14-character answers fit a tiny student configured to write 16.
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"student_config": {"max_new_tokens": 16}}))
    name = f"{user_module}:long_answers"
    result = runner.invoke(app, ["check-domain", name, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "contract holds" in result.output


def test_a_valid_user_domain_passes_and_builtins_pass(user_module: str) -> None:
    assert domain_violations(f"{user_module}:valid") == []
    for builtin in ("arithmetic", "tool-use"):
        assert domain_violations(builtin) == [], builtin


def test_make_env_raises_the_contract_error_with_every_violation(user_module: str) -> None:
    import broken_domains

    with pytest.raises(DomainContractError) as err:
        make_env(domain=broken_domains.LongAnswers())
    assert len(err.value.violations) == 2
    assert "and 1 more" in str(err.value)
    assert str(err.value).count("\n") == 0


def test_check_domain_finds_nothing_wrong_with_a_checked_builtin() -> None:
    from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain

    domain = ArithmeticDomain(ArithmeticConfig(val_per_subskill=4, test_per_subskill=4))
    assert check_domain(domain) == []


def _tiny_config(tmp_path: Path, tiny_student: dict[str, Any], **extra: Any) -> Path:
    config = {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 5},
        "student_config": tiny_student,
        "pretrain": {"steps": 10, "examples": 300},
        "domain_config": {"per_subskill": 6},
        **extra,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_builtin_domain_and_a_smaller_student_warn_at_build_and_fail_the_check(
    tmp_path: Path,
) -> None:
    small = {"max_new_tokens": 12}
    with pytest.warns(UserWarning, match=r"domain 'tool-use': generate: answer of \d+ characters"):
        make_env(
            domain="tool-use",
            student_config=small,
            domain_config={"val_per_subskill": 3, "test_per_subskill": 3},
        )
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"student_config": small}))
    result = runner.invoke(app, ["check-domain", "tool-use", "--config", str(config)])
    assert result.exit_code == 2
    assert "student 'tiny' writes at most 12" in _error_lines(result.output)[0]
