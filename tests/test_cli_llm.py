"""`dataenvgym run --teacher openai:MODEL` end to end against the loopback server: faults
counted in the run folder, a warm-cache re-run with zero calls, LLM skill discovery, and
one-line errors (exit 2, before any training) for a missing key or an unreachable server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataenvgym.cli import app
from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, FaultConfig, ScriptedTeacher

runner = CliRunner()
SECRET = "sk-test-SECRET-0123456789"


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_KEY_ENV, SECRET)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ScriptedTeacher(), latency_s=0.005) as srv:
        yield srv


def write_config(tmp_path: Path, tiny_student: dict[str, Any], **llm: Any) -> Path:
    config = {
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 5},
        "student_config": tiny_student,
        "pretrain": {"steps": 10, "examples": 300},
        "domain_config": {"val_per_subskill": 6, "test_per_subskill": 6},
        "llm": {
            "api_key_env": TEST_KEY_ENV,
            "timeout_s": 1.5,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            **llm,
        },
    }
    path = tmp_path / "llm.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(config: Path, base_url: str, out: Path, *extra: str) -> Any:
    args = ["run", "--config", str(config), "--teacher", "openai:fake-model"]
    args += ["--base-url", base_url, "--out", str(out), "--no-report", *extra]
    return runner.invoke(app, args)


def usage_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "llm_usage.json").read_text())


@pytest.mark.slow
def test_faulty_server_run_completes_counts_failures_and_replays_from_warm_cache(
    server: FakeOpenAIServer, tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    cache = tmp_path / "shared_cache.sqlite"
    config = write_config(tmp_path, tiny_student, cache_path=str(cache))
    server.faults = FaultConfig(rate=0.3, seed=1, hang_s=3.0)
    first = tmp_path / "first"
    result = run_cli(config, server.base_url, first, "--env", "skill-tree")
    assert result.exit_code == 0, result.output
    assert "LLM teacher openai:fake-model" in result.output

    faults = server.fault_counts
    transient = sum(faults.get(k, 0) for k in ("429", "500", "timeout"))
    content = sum(faults.get(k, 0) for k in ("truncated", "malformed"))
    assert transient > 0 and content > 0
    total = usage_of(first)["usage"]["total"]
    # Every transient fault was retried (or, after all retries, counted as a failed call);
    # every damaged answer was re-asked (or counted as an invalid output).
    assert total["retries"] + total["failed_calls"] >= transient
    assert total["reasks"] + total["invalid_outputs"] == content
    summary = json.loads((first / "summary.json").read_text())
    assert [row["iteration"] for row in summary["iterations"]] == [1, 2]
    assert all(row["num_new_data"] > 0 for row in summary["iterations"])
    for it in (1, 2):
        per_it = json.loads((first / f"iteration_00{it}" / "llm_usage.json").read_text())
        assert per_it["usage"]["calls"] > 0 and "dropped_total" in per_it["engine"]
    # The key itself is nowhere in the run folder; the name of its variable is.
    for path in first.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert yaml.safe_load((first / "config.yaml").read_text())["llm"]["api_key_env"] == TEST_KEY_ENV

    server.faults = FaultConfig()
    calls = server.calls
    second = tmp_path / "second"
    result = run_cli(config, server.base_url, second, "--env", "skill-tree")
    assert result.exit_code == 0, result.output
    assert server.calls == calls, "a warm cache must answer every call"
    replay = usage_of(second)["usage"]["total"]
    assert replay["calls"] == 0 and replay["cache_hits"] > 0
    again = json.loads((second / "summary.json").read_text())
    assert again["final"] == summary["final"]
    for it in (1, 2):
        name = f"iteration_00{it}/data.jsonl"
        assert (second / name).read_text() == (first / name).read_text()


def test_llm_skill_discovery_run(
    server: FakeOpenAIServer, tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    run = tmp_path / "run"
    config = write_config(tmp_path, tiny_student, discovery_batch=30)
    result = run_cli(config, server.base_url, run, "--env", "skill-list", "--skills", "llm")
    assert result.exit_code == 0, result.output
    skills = json.loads((run / "llm_skills.json").read_text())
    names = [s["name"] for s in skills["skills"]]
    assert names == ["addition", "subtraction", "multiplication", "division"]
    assert len(skills["assignment"]) == 60  # every validation instance has a skill
    usage = usage_of(run)
    assert usage["usage"]["by_role"]["skill_discovery"]["calls"] >= 4
    assert usage["skill_discovery"]["reasked_instances"] > 0
    plan = json.loads((run / "iteration_001" / "plan.json").read_text())
    assert set(plan["requests"]) <= set(names)
    assert yaml.safe_load((run / "config.yaml").read_text())["skills"] == "llm"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing key", f"environment variable {TEST_KEY_ENV} is not set"),
        ("unreachable", "cannot reach http://127.0.0.1:"),
        ("wrong key", "rejected the API key"),
        ("procedural llm skills", "skills 'llm' needs an LLM teacher"),
        ("unknown setting", "unknown llm setting(s) ['temprature']"),
        ("unknown model", "model 'fake-model' is not among the models"),
    ],
)
def test_llm_setup_errors_are_one_line_exit_2_before_any_work(
    case: str,
    expected: str,
    tmp_path: Path,
    tiny_student: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm: dict[str, Any] = {"temprature": 0.2} if case == "unknown setting" else {}
    config = write_config(tmp_path, tiny_student, **llm)
    out = tmp_path / "run"
    models = ("llama-3",) if case == "unknown model" else ("fake-model",)
    with FakeOpenAIServer(api_key="the-right-key", models=models, strict_models=True) as srv:
        base_url = srv.base_url
        if case == "missing key":
            monkeypatch.delenv(TEST_KEY_ENV)
        if case == "unknown model":
            monkeypatch.setenv(TEST_KEY_ENV, "the-right-key")
        if case == "unreachable":
            base_url = f"http://127.0.0.1:{free_port()}/v1"
        if case == "procedural llm skills":
            args = ["run", "--config", str(config), "--skills", "llm", "--out", str(out)]
            result = runner.invoke(app, args)
        else:
            result = run_cli(config, base_url, out)
        assert srv.calls == (1 if case == "unknown model" else 0)  # its 1-token probe
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert SECRET not in result.output
    assert not out.exists(), "nothing may be written before the teacher is checked"


@pytest.mark.parametrize("answer", ["Happy to help! Practise carries.", "{'items': [{'prompt'"])
def test_an_unusable_teacher_ends_the_run_with_one_line_and_exit_2(
    answer: str, tmp_path: Path, tiny_student: dict[str, Any]
) -> None:
    config = write_config(tmp_path, tiny_student)
    out = tmp_path / "run"
    with FakeOpenAIServer(lambda request: answer) as srv:
        result = run_cli(config, srv.base_url, out, "--env", "skill-tree")
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "unusable in iteration 1" in errors[0]
        assert f"--resume {out}" in errors[0] and "Traceback" not in result.output
        assert (out / "iteration_000" / "report.json").is_file()

        allowed = run_cli(
            config, srv.base_url, tmp_path / "allowed", "--env", "skill-tree", "--allow-degraded"
        )
    assert allowed.exit_code == 0, allowed.output
    summary = json.loads((tmp_path / "allowed" / "summary.json").read_text())
    assert summary["teacher_health"]["degraded"] is True
