"""A real LLM-teacher episode (against the loopback OpenAI server): the report shows its
calls and tokens as the teacher recorded them, and the export names the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dataenvgym.agents.llm import LLMTeacher, TeacherOptions, make_llm_agent
from dataenvgym.registry import make_env
from dataenvgym.report import analysis, export_rows, load_run, write_report
from dataenvgym.runner import run_episode
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, ScriptedTeacher, fake_server_config


def test_llm_usage_and_provenance_reach_the_report_and_export(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_kwargs: Callable[..., dict[str, Any]],
) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, "test-key")
    run = tmp_path / "run"
    with FakeOpenAIServer(ScriptedTeacher(), latency_s=0.0) as server:
        teacher = LLMTeacher(
            fake_server_config(server, run / "llm_cache.sqlite"), TeacherOptions(), run_dir=run
        )
        env = make_env(**tiny_kwargs("skill-list"))
        agent = make_llm_agent("with-state", "skill-list", env.domain, teacher)
        run_episode(env, agent, seed=0, out_dir=run)
        teacher.close()

    loaded = load_run(run)
    table = analysis.llm_usage(loaded)
    assert table is not None and "openai:fake-model" in table.note
    recorded = json.loads((run / "llm_usage.json").read_text())["usage"]["total"]
    total = table.as_dicts()[-1]
    for counter in ("calls", "prompt_tokens", "completion_tokens"):
        assert total[counter] == recorded[counter] > 0
    assert {row["role"] for row in table.as_dicts()} >= {"policy", "engine"}

    html = write_report([run], tmp_path / "report").read_text()
    assert "LLM calls and tokens" in html and "LLM tokens" in html
    assert "No LLM usage recorded" not in html
    assert "teacher health" in html and "of policy decisions fell back" in html

    rows = export_rows(loaded)
    assert rows and all(r["source"] == "llm" for r in rows)
    assert {r["engine"] for r in rows} == {"LLMEngine(openai:fake-model)"}
