"""A user's domain failing during a run: the error names the domain, method, split and item."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.domains.contract import DomainRunError
from dataenvgym.domains.guard import GuardedDomain
from dataenvgym.protocols import BatchDomain, ProceduralDomain
from dataenvgym.registry import make_env
from dataenvgym.types import TrainingDatum

runner = CliRunner()


HERE = Path(__file__).parent


@pytest.fixture
def user_module(monkeypatch: pytest.MonkeyPatch) -> str:
    """``broken_domains`` importable the way a user's own module is (on the path)."""
    monkeypatch.syspath_prepend(str(HERE))
    return "broken_domains"


def _tiny(tiny_student: dict[str, Any]) -> dict[str, Any]:
    return {
        "env_config": {"budget_per_iteration": 40, "max_iterations": 2},
        "trainer_config": {"steps_per_iteration": 5},
        "student_config": tiny_student,
        "pretrain_config": {"steps": 5, "examples": 200},
    }


def test_make_env_wraps_a_user_domain_and_keeps_its_shape(user_module: str) -> None:
    env = make_env(domain=f"{user_module}:valid", domain_config={"per_subskill": 4})
    assert isinstance(env.domain, GuardedDomain)
    assert isinstance(env.domain, ProceduralDomain)
    assert not isinstance(env.domain, BatchDomain)  # the user's domain has no score_many
    assert env.domain.name == "mini" and env.domain.version == "1"
    assert env.domain.per_subskill == 4  # other attributes pass through
    copy = pickle.loads(pickle.dumps(env.domain))  # agents holding it are checkpointed
    assert copy.name == "mini" and isinstance(copy, ProceduralDomain)


def test_a_scorer_failing_on_a_test_item_names_split_and_item(
    user_module: str, tiny_student: dict[str, Any]
) -> None:
    env = make_env(domain=f"{user_module}:test_scorer_raises", **_tiny(tiny_student))
    env.reset(seed=0)  # validation items -009 do not exist: 6 per subskill
    with pytest.raises(DomainRunError) as err:
        env.unwrapped.evaluate_test()  # type: ignore[attr-defined]
    message = str(err.value)
    assert message.startswith("domain 'mini': score raised ZeroDivisionError: division by zero")
    assert "split test" in message and "item test-rev-two-009" in message


def test_a_generator_failing_in_pretraining_names_the_subskill(
    user_module: str, tiny_student: dict[str, Any]
) -> None:
    env = make_env(domain=f"{user_module}:generator_raises_on_big_counts", **_tiny(tiny_student))
    with pytest.raises(DomainRunError) as err:
        env.reset(seed=0)
    message = str(err.value)
    assert "domain 'mini': generate raised OverflowError: ran out of problems" in message
    assert "split training data" in message and "item dup/one" in message


def test_a_verifier_failing_on_a_datum_names_it(user_module: str) -> None:
    import broken_domains

    class RaisingVerify(broken_domains.MiniDomain):
        def verify(self, datum: TrainingDatum) -> Any:
            if datum.prompt.startswith("bad"):
                raise IndexError("list index out of range")
            return super().verify(datum)

    guarded = GuardedDomain(RaisingVerify())
    datum = TrainingDatum(id="d1", domain="mini", prompt="bad:x=", response="x")
    with pytest.raises(DomainRunError, match=r"verify raised IndexError.*item d1 'bad:x='"):
        guarded.verify(datum)
    good = guarded.generate("rev", "two", 2, random.Random(0))
    assert [guarded.verify(d) for d in good] == [None, None]


def test_the_cli_reports_a_mid_run_failure_on_one_line(
    user_module: str, tiny_student: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "iterations": 1,
                "budget": 20,
                "trainer": {"steps_per_iteration": 2},
                "student_config": tiny_student,
                "pretrain": {"steps": 5, "examples": 200},
                "domain_config": {"per_subskill": 6},
            }
        )
    )
    args = ["run", "--domain", f"{user_module}:test_scorer_raises", "--config", str(config)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "run"), "--no-report"])
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert "score raised ZeroDivisionError" in line and "split test" in line
    assert "Traceback" not in result.output
