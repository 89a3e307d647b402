"""LLM skill discovery against the loopback server: label, merge, assign (re-asking the
unmapped), propose subskills; saved and reloaded without calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.domains.arithmetic.domain import ArithmeticConfig, ArithmeticDomain
from dataenvgym.llm import LLMClient
from dataenvgym.skills.llm import OTHER, LLMSkillDiscovery
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, ScriptedTeacher, fake_server_config
from dataenvgym.types import TaskInstance

OPERATION = {"+": "addition", "-": "subtraction", "*": "multiplication", "%": "division"}


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")


@pytest.fixture
def instances() -> list[TaskInstance]:
    domain = ArithmeticDomain(ArithmeticConfig(val_per_subskill=4, test_per_subskill=1))
    return domain.splits(0)[0]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ScriptedTeacher(), latency_s=0.005) as srv:
        yield srv


def operation(prompt: str) -> str:
    return next(skill for op, skill in OPERATION.items() if op in prompt[1:])


def test_discovery_labels_merges_assigns_every_instance_and_proposes_subskills(
    server: FakeOpenAIServer, instances: list[TaskInstance], tmp_path: Path
) -> None:
    saved = tmp_path / "skills.json"
    with LLMClient(fake_server_config(server)) as client:
        discovery = LLMSkillDiscovery(client, "arithmetic", batch_size=8, save_path=saved)
        assigned = discovery.assign(instances)
        skills = discovery.discover(assigned)
        usage = client.usage.total(role="skill_discovery")

    assert [s.name for s in skills] == ["addition", "subtraction", "multiplication", "division"]
    assert skills[0].subskills.keys() == {"no_carry", "carry", "carry_chain"}
    # Every instance has exactly one discovered skill, and here it is the right one.
    assert [i.id for i in assigned] == [i.id for i in instances]
    assert all(i.skill == operation(i.prompt) and i.subskill is None for i in assigned)
    # The scripted model gave some instances a label the merge left out: they were re-asked.
    stats = discovery.stats
    assert stats["reasked_instances"] > 0
    assert stats["mapped_by_label"] + stats["mapped_by_reask"] == len(instances)
    assert stats["assigned_to_other"] == 0
    # 5 labelling batches, 1 merge, 1 re-assignment batch, 4 subskill calls; all iteration 0.
    assert usage.calls == 5 + 1 + 1 + 4 and client.usage.total(iteration=0).calls == usage.calls

    calls = server.calls
    with LLMClient(fake_server_config(server)) as client:
        reloaded = LLMSkillDiscovery(client, "arithmetic", save_path=saved)
        again = reloaded.assign(instances)
    assert server.calls == calls, "a saved discovery is reloaded, not recomputed"
    assert [i.skill for i in again] == [i.skill for i in assigned]
    assert reloaded.skills() == discovery.skills()
    assert json.loads(saved.read_text())["assignment"][instances[0].id] == assigned[0].skill


def test_instances_no_round_can_place_go_to_other(instances: list[TaskInstance]) -> None:
    scripted = ScriptedTeacher()

    def stubborn(request: dict[str, Any]) -> str:
        answer = scripted(request)
        if '"title":"InstanceAssignments"' in request["messages"][-1]["content"]:
            ids = [
                line for line in request["messages"][0]["content"].splitlines() if '"id"' in line
            ]
            return json.dumps(
                {"assignments": [{"id": json.loads(x[2:])["id"], "skill": "poetry"} for x in ids]}
            )
        return answer

    with FakeOpenAIServer(stubborn) as srv, LLMClient(fake_server_config(srv)) as client:
        discovery = LLMSkillDiscovery(client, "arithmetic", assign_rounds=2, subskills_per_skill=0)
        assigned = discovery.assign(instances)
        skills = discovery.discover(assigned)
    unplaced = discovery.stats["assigned_to_other"]
    assert unplaced > 0 and discovery.stats["reasked_instances"] == 2 * unplaced
    assert sum(i.skill == OTHER for i in assigned) == unplaced
    assert skills[-1].name == OTHER and all(s.subskills == {} for s in skills)
