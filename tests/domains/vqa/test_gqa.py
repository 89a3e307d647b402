"""GQA loader on fixture files in GQA's format: balanced per question type, exact match."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dataenvgym.domains.vqa.gqa import GQAConfig, GQADomain, balanced, read_questions
from dataenvgym.domains.vqa.images import load_image
from dataenvgym.errors import ConfigError
from dataenvgym.types import TrainingDatum

FIXTURES = Path(__file__).parent / "fixtures" / "gqa"


def _domain(**overrides: Any) -> GQADomain:
    settings: dict[str, Any] = {
        "questions_path": FIXTURES / "questions.json",
        "images_dir": FIXTURES / "images",
        "val_per_type": 2,
        "test_per_type": 2,
    }
    return GQADomain(GQAConfig(**{**settings, **overrides}))


def test_skills_are_semantic_types_with_detailed_question_types() -> None:
    skills = {s.name: set(s.subskills) for s in _domain().skills()}
    assert skills == {
        "attr": {"chooseAttr", "materialVerify"},
        "cat": {"categoryRelS"},
        "obj": {"existOr"},
        "rel": {"relS", "relVerify"},
    }


def test_splits_are_balanced_per_question_type_and_share_no_image() -> None:
    domain = _domain()
    val, test = domain.splits(seed=0)
    val_types = Counter(i.subskill for i in val)
    assert set(val_types) == {
        "chooseAttr",
        "materialVerify",
        "categoryRelS",
        "existOr",
        "relS",
        "relVerify",
    }
    assert all(n <= 2 for n in val_types.values()) and sum(val_types.values()) >= 8
    assert all(n <= 2 for n in Counter(i.subskill for i in test).values())
    val_images = {i.metadata["image_path"] for i in val}
    assert not val_images & {i.metadata["image_path"] for i in test}
    assert [i.id for i in domain.splits(seed=0)[0]] == [i.id for i in val]
    item = val[0]
    assert item.answer == item.answer.lower()
    assert load_image(item.metadata).size == (16, 12)


def test_the_default_is_five_per_question_type() -> None:
    records = [
        {"id": str(i), "imageId": f"img{i}", "types": {"detailed": "t" + str(i % 3)}}
        for i in range(60)
    ]
    val, test = balanced(records, (5, 5), "detailed", seed=1)
    assert Counter(r["types"]["detailed"] for r in val) == {"t0": 5, "t1": 5, "t2": 5}
    assert Counter(r["types"]["detailed"] for r in test) == {"t0": 5, "t1": 5, "t2": 5}
    assert GQAConfig(dataset="lmms-lab/GQA").val_per_type == 5


def test_scoring_is_exact_match_after_normalisation() -> None:
    domain = _domain()
    item = domain.splits(seed=0)[0][0]
    assert domain.score(item, f" {item.answer.upper()}.").correct
    assert not domain.score(item, f"a {item.answer}").correct


def test_jsonl_questions_and_errors(tmp_path: Path) -> None:
    records = read_questions(FIXTURES / "questions.json")
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    assert read_questions(path) == records
    with pytest.raises(ValidationError, match="exactly one"):
        GQAConfig()
    with pytest.raises(ConfigError, match="does not exist"):
        _domain(questions_path=tmp_path / "missing.json").splits(0)
    with pytest.raises(ConfigError, match="missing"):
        _domain(images_dir=tmp_path).splits(0)


def test_verify_needs_an_image_and_a_short_answer() -> None:
    domain = _domain()
    image = str(FIXTURES / "images" / "n100.jpg")
    ok = TrainingDatum(
        id="a", domain="gqa", prompt="<image:x> q?", response="red", metadata={"image_path": image}
    )
    assert domain.verify(ok) is None
    assert domain.verify(ok.model_copy(update={"metadata": {}})) is not None
    assert domain.verify(ok.model_copy(update={"response": "it is a red ball"})) is not None


def test_a_hub_dataset_is_read_through_datasets_and_its_images_saved_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    datasets = pytest.importorskip("datasets", reason="GQA by name needs the [hf] extra")
    from PIL import Image

    records = read_questions(FIXTURES / "questions.json")
    questions = datasets.Dataset.from_list(records)
    image_ids = sorted({r["imageId"] for r in records})
    images = datasets.Dataset.from_dict(
        {
            "id": image_ids,
            "image": [Image.open(FIXTURES / "images" / f"{i}.jpg") for i in image_ids],
        },
        features=datasets.Features({"id": datasets.Value("string"), "image": datasets.Image()}),
    )
    calls: list[tuple[str, str, str]] = []

    def load_dataset(name: str, config: str, split: str) -> object:
        calls.append((name, config, split))
        return questions if config.endswith("instructions") else images

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    domain = GQADomain(GQAConfig(dataset="lmms-lab/GQA", val_per_type=2, test_per_type=2))
    val, test = domain.splits(seed=0)
    assert calls == [
        ("lmms-lab/GQA", "testdev_balanced_instructions", "testdev"),
        ("lmms-lab/GQA", "testdev_balanced_images", "testdev"),
    ]
    assert len({i.subskill for i in val}) == 6 and test
    assert all(load_image(i.metadata).size == (16, 12) for i in val)
