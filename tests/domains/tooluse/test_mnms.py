"""The MnMs loader and its plan-accuracy scoring, on a fixture file in the dataset's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataenvgym.domains.tooluse.mnms import (
    MnMsConfig,
    MnMsDomain,
    load_mnms,
    parse_prediction,
    plan_metrics,
)
from dataenvgym.errors import ConfigError
from dataenvgym.types import TrainingDatum

SAMPLE = Path(__file__).parent / "fixtures" / "mnms_sample.json"


@pytest.fixture(scope="module")
def domain() -> MnMsDomain:
    return MnMsDomain(MnMsConfig(path=SAMPLE))


def test_loader_reads_plans_as_lists_or_json_text() -> None:
    items = load_mnms(MnMsConfig(path=SAMPLE))
    assert [i.id for i in items] == ["11", "12", "13", "14"]
    assert items[0].skill == "2-step"
    assert items[0].subskill == "wikipedia simple search+text summarization"
    assert items[1].subskill == "object detection"  # its plan was JSON text
    assert len(items[3].metadata["alt_plans"]) == 1


def test_skills_are_plan_lengths_and_splits_are_disjoint(domain: MnMsDomain) -> None:
    assert [s.name for s in domain.skills()] == ["1-step", "2-step", "3-step"]
    val, test = domain.splits(0)
    assert not {i.id for i in val} & {i.id for i in test}
    assert len(val) + len(test) == 4


def test_prediction_formats() -> None:
    steps = [{"id": 0, "name": "object detection", "args": {"image": "a.jpg"}}]
    assert parse_prediction(json.dumps(steps)) == [("object detection", ("image",))]
    assert parse_prediction(f"Plan:\n```json\n{json.dumps({'nodes': steps})}\n```") == [
        ("object detection", ("image",))
    ]
    assert parse_prediction("image captioning(88.jpg)|text generation($1)") == [
        ("image captioning", ()),
        ("text generation", ()),
    ]
    assert parse_prediction("I would detect objects.") == []


def test_plan_accuracy_tool_f1_and_alternatives(domain: MnMsDomain) -> None:
    summarize = domain.instances[0]
    assert domain.score(summarize, summarize.answer).correct
    reversed_plan = json.dumps(list(reversed(json.loads(summarize.answer))))
    score = domain.score(summarize, reversed_plan)
    assert not score.correct and score.partial == 1.0  # same tools, wrong order
    half = domain.score(summarize, "wikipedia simple search(Eiffel Tower)")
    assert not half.correct and half.partial == pytest.approx(2 / 3)
    year = domain.instances[3]
    assert domain.score(year, "get year fact(1969)|text classification($1)").correct  # alt
    gold = parse_prediction(summarize.answer)
    metrics = plan_metrics(
        json.dumps([{"name": "wikipedia simple search", "args": {"query": "x"}}]), gold
    )
    assert metrics["argname_f1"] == 0.0 and metrics["plan_accuracy"] == 0.0


def test_verification(domain: MnMsDomain) -> None:
    known = domain.instances[1]

    def datum(prompt: str, response: str) -> TrainingDatum:
        return TrainingDatum(id="d", domain="mnms", prompt=prompt, response=response)

    assert domain.verify(datum(known.prompt, known.answer)) is None
    assert "differ" in (domain.verify(datum(known.prompt, "image captioning(x)")) or "")
    assert domain.verify(datum("Detect objects in 5.jpg", "object detection(5.jpg)")) is None
    assert "unknown tools" in (domain.verify(datum("Fly", "teleport(mars)")) or "")
    assert "not a plan" in (domain.verify(datum("Fly", "no idea")) or "")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_mnms(MnMsConfig(path=tmp_path / "none.json"))
