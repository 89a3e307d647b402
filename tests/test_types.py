from __future__ import annotations

from dataenvgym.types import TrainingDatum


def test_a_datum_becomes_an_instance_whose_answer_is_its_response() -> None:
    datum = TrainingDatum(
        id="d1",
        domain="arithmetic",
        prompt="12+30=",
        response="42",
        skill="addition",
        subskill="no_carry",
        metadata={"a": 12, "b": 30},
    )
    instance = datum.as_instance()
    assert (instance.id, instance.domain, instance.prompt, instance.answer) == (
        "d1",
        "arithmetic",
        "12+30=",
        "42",
    )
    assert (instance.skill, instance.subskill, instance.metadata) == (
        "addition",
        "no_carry",
        {"a": 12, "b": 30},
    )
    assert datum.as_instance(id="private-00001").id == "private-00001"
