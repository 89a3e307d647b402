"""MATH and GSM8K loaders and domains on fixture files in the benchmarks' own formats."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.config import load_config
from dataenvgym.domains.math import GSM8KConfig, GSM8KDomain, MathConfig, MathDomain, hendrycks
from dataenvgym.domains.math.loaders import load_records
from dataenvgym.errors import ConfigError
from dataenvgym.registry import make_agent, make_domain, make_env
from dataenvgym.types import TrainingDatum

FIXTURES = Path(__file__).parent / "fixtures"
PAPER_CONFIG = Path(__file__).parents[3] / "configs" / "math-gemma2-2b-skill-tree.yaml"


def math_domain(**settings: Any) -> MathDomain:
    return MathDomain(MathConfig(dataset=str(FIXTURES / "MATH"), **settings))


def test_math_skills_are_the_seven_subjects_with_five_levels() -> None:
    skills = math_domain().skills()
    assert [s.name for s in skills] == sorted(hendrycks.SUBJECTS.values())
    assert all(list(s.subskills) == [f"level_{n}" for n in range(1, 6)] for s in skills)


def test_math_splits_are_balanced_disjoint_and_seeded() -> None:
    domain = math_domain(val_per_subskill=1)
    val, test = domain.splits(seed=0)
    cells = Counter((inst.skill, inst.subskill) for inst in val)
    assert set(cells.values()) == {1}
    # Train problems that also appear in test are never validation items.
    assert not {i.prompt for i in val} & {i.prompt for i in test}
    assert len(cells) == 31  # 4 cells' train problems all reappear in the fixture's test
    assert all(inst.id.startswith("math-train-") for inst in val)
    # The whole test split by default, minus the problem whose level is "Level ?".
    assert len(test) == 21 and all(inst.id.startswith("math-test-") for inst in test)
    assert domain.splits(seed=0) == (val, test)
    two = math_domain(val_per_subskill=2).splits(seed=0)[0]
    assert len(two) > len(val)
    sampled = math_domain(test_per_subskill=1).splits(seed=0)[1]
    assert len(sampled) == len({(i.skill, i.subskill) for i in test})


def test_math_instance_format_and_scoring() -> None:
    domain = math_domain()
    _, test = domain.splits(seed=0)
    instance = next(i for i in test if i.skill == "counting_and_probability")
    assert instance.prompt.endswith("Put the final answer in \\boxed{}.")
    assert instance.answer.startswith("\\frac{1}{")
    assert domain.score(instance, instance.metadata["solution"]).correct
    value = 1 / int(instance.answer.removeprefix("\\frac{1}{").removesuffix("}"))
    assert domain.score(instance, f"\\boxed{{{value}}}").correct
    wrong = domain.score(instance, "\\boxed{2}")
    assert not wrong.correct and wrong.partial == 0.0


def test_batch_scoring_in_worker_processes_equals_one_by_one() -> None:
    domain = math_domain(scoring_workers=2)
    _, test = domain.splits(seed=0)
    predictions = [
        inst.metadata["solution"] if index % 2 else f"\\boxed{{{index}}}"
        for index, inst in enumerate(test)
    ]
    batch = domain.score_many(test, predictions)
    assert batch == [domain.score(i, p) for i, p in zip(test, predictions, strict=True)]
    assert sum(score.correct for score in batch) >= len(test) // 2


def test_math_verify_checks_generated_solutions() -> None:
    domain = math_domain()

    def datum(response: str) -> TrainingDatum:
        return TrainingDatum(id="d", domain="math", prompt=domain.prompt("1+1?"), response=response)

    assert domain.verify(datum("It is $\\boxed{2}$.")) is None
    assert "no \\boxed" in (domain.verify(datum("It is 2.")) or "")


def test_original_math_layout_and_parquet_are_read(tmp_path: Path) -> None:
    original = MathDomain(MathConfig(dataset=str(FIXTURES / "MATH-original")))
    assert len(original.train_instances) == 4 and len(original.test_instances) == 2
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        json.loads(line)
        for line in (FIXTURES / "MATH" / "test.jsonl").read_text().split("\n")
        if line
    ]
    (tmp_path / "algebra").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "algebra" / "test-00000-of-00001.parquet")
    assert load_records(str(tmp_path), "test") == rows


def test_hub_names_go_through_datasets_with_the_subject_configs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str | None, str]] = []
    row = json.loads((FIXTURES / "MATH" / "train.jsonl").read_text().splitlines()[0])

    def fake_load_dataset(name: str, subset: str | None, *, split: str, revision: Any) -> list[Any]:
        calls.append((name, subset, split))
        return [row]

    import datasets

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert len(MathDomain().train_instances) == 7  # one row per subject config
    assert [c[1] for c in calls] == sorted(hendrycks.SUBJECTS.values())
    calls.clear()
    lighteval = "DigitalLearningGmbH/MATH-lighteval"
    val, test = MathDomain(MathConfig(dataset=lighteval)).splits(seed=0)
    assert calls == [(lighteval, None, "test"), (lighteval, None, "train")]
    assert len(test) == 1 and val == []  # the one train problem is also the test problem


def test_unreachable_hub_and_bad_files_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ConfigError, match="cannot load split 'test' of nobody/MATH"):
        MathDomain(MathConfig(dataset="nobody/MATH")).splits(seed=0)
    record = {"problem": "1+1?", "solution": "$\\boxed{2}$", "level": "Level 1", "type": "Algebra"}
    (tmp_path / "test.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(ConfigError, match="no 'train' files"):
        MathDomain(MathConfig(dataset=str(tmp_path))).splits(seed=0)
    del record["solution"], record["type"]
    (tmp_path / "test.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(ConfigError, match="lacks solution, type"):
        MathDomain(MathConfig(dataset=str(tmp_path))).splits(seed=0)


def test_gsm8k_domain() -> None:
    domain = GSM8KDomain(GSM8KConfig(dataset=str(FIXTURES / "gsm8k"), val_per_subskill=2))
    val, test = domain.splits(seed=0)
    assert Counter(i.subskill for i in val) == {name: 2 for name in hendrycks_free_buckets()}
    assert len(test) == 8
    instance = test[0]
    assert instance.answer == "1545" and instance.metadata["steps"] == 5
    assert domain.score(instance, instance.metadata["solution"]).correct
    assert domain.score(instance, "She earns 1545 dollars.").correct
    assert not domain.score(instance, "#### 1546").correct
    good = TrainingDatum(id="g", domain="gsm8k", prompt="q", response="2+2=4\n#### 4")
    assert domain.verify(good) is None
    assert domain.verify(good.model_copy(update={"response": "four"})) is not None


def hendrycks_free_buckets() -> list[str]:
    from dataenvgym.domains.math.gsm8k import STEP_BUCKETS

    return list(STEP_BUCKETS)


def test_registered_by_name_without_procedural_agents() -> None:
    domain = make_domain("math", {"dataset": str(FIXTURES / "MATH")})
    assert isinstance(domain, MathDomain)
    with pytest.raises(ConfigError, match="val_per_subskill"):
        make_domain("gsm8k", {"val_per_subskill": 0})
    with pytest.raises(ConfigError, match="LLM teacher"):
        make_agent("with-state", "skill-tree", domain)


def test_the_papers_math_config_validates_and_builds_without_downloading() -> None:
    config = load_config(PAPER_CONFIG)
    assert (config.domain, config.student, config.trainer.mode) == ("math", "hf", "retrain")
    env = make_env(**config.env_kwargs())  # nothing is loaded until reset
    factory: Any = env.student_factory
    assert factory.config.model == "google/gemma-2-2b-it"
    assert factory.config.max_new_tokens_for("math") == 350
    assert isinstance(env.domain, MathDomain) and env.domain.config.test_per_subskill is None
