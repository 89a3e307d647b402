"""LLM teachers against loopback endpoints, through the command line.

Part 1: a server that answers only from the JSON schema in each request
(``dataenvgym.testing.SchemaServer``) runs one episode per environment; the table shows the
data kept, dropped and repaired by the engine, the policy's fallbacks, and whether it trained.

Part 2: endpoints that give nothing usable (prose only, malformed JSON, a 500 to every call,
a hung server) each run an episode; the table shows the exit code, the seconds from start to
exit (pretraining and evaluating the base student included) and the one error line.

    python bench/llm_teacher_health.py [--out bench/results/llm_teacher_health.json]

Episodes are tiny (arithmetic, 2 iterations of 40 data) so that the bench takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from dataenvgym.testing import TEST_KEY_ENV, FakeOpenAIServer, FaultConfig, SchemaServer

TINY_STUDENT = {"d_model": 32, "n_layer": 1, "n_head": 2, "batch_size": 32}
CLI = "from dataenvgym.cli import main; main()"


def run_cli(server: FakeOpenAIServer, env: str, tmp: Path, llm: dict[str, Any]) -> dict[str, Any]:
    """One `dataenvgym run` against ``server``; exit code, seconds, error line, run folder."""
    config = {
        "env": env,
        "iterations": 2,
        "budget": 40,
        "trainer": {"steps_per_iteration": 20},
        "student_config": TINY_STUDENT,
        "pretrain": {"steps": 40, "examples": 600},
        "domain_config": {"val_per_subskill": 10, "test_per_subskill": 10},
        "llm": {"api_key_env": TEST_KEY_ENV, **llm},
    }
    path = tmp / f"{env}.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp / f"run-{env}"
    args = ["run", "--config", str(path), "--teacher", "openai:fake-model"]
    args += ["--base-url", server.base_url, "--out", str(out), "--no-report"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    return {
        "exit_code": done.returncode,
        "seconds": round(seconds, 1),
        "traceback": "Traceback" in output,
        "error_line": errors[-1] if errors else None,
        "folder": out,
    }


def schema_episodes(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for env in ("open-ended", "skill-list", "skill-tree"):
        with SchemaServer() as server:
            result = run_cli(server, env, tmp, {})
        folder = result.pop("folder")
        usage = json.loads((folder / "llm_usage.json").read_text())
        summary = json.loads((folder / "summary.json").read_text())
        engine, policy = usage["engine"]["total"], usage["policy"]["total"]
        rows.append(
            {
                "env": env,
                **result,
                "structured_output": usage["structured_output"]["mode"],
                "kept": engine.get("kept", 0),
                "dropped": engine["dropped_total"],
                "repaired_answers": engine.get("repaired_answers", 0),
                "policy_decisions": policy.get("decisions", 0),
                "policy_fallbacks": policy.get("fallbacks", 0),
                "invalid_outputs": usage["usage"]["total"]["invalid_outputs"],
                "reasks": usage["usage"]["total"]["reasks"],
                "trained_on": summary["total_training_data"],
                "test_before": summary["initial"]["test_accuracy"],
                "test_after": summary["final"]["test_accuracy"],
                "delivered_share": summary["teacher_health"]["delivered_share"],
            }
        )
        print(rows[-1], flush=True)
    return rows


def unusable_endpoints(tmp: Path) -> list[dict[str, Any]]:
    cases: dict[str, tuple[FakeOpenAIServer, dict[str, Any]]] = {
        "prose only": (FakeOpenAIServer(lambda r: "Happy to help! Practise carrying digits."), {}),
        "malformed JSON": (FakeOpenAIServer(lambda r: "{'items': [{'prompt': '123+456='"), {}),
        "500 to every call": (FakeOpenAIServer(faults=FaultConfig(1.0, kinds=("500",))), {}),
        "hung (timeout_s=5, max_call_seconds=20)": (
            FakeOpenAIServer(faults=FaultConfig(1.0, kinds=("timeout",), hang_s=60)),
            {"timeout_s": 5, "max_call_seconds": 20},
        ),
    }
    rows = []
    for name, (server, llm) in cases.items():
        with server:
            result = run_cli(server, "skill-tree", tmp / name.split()[0], llm)
        result.pop("folder")
        rows.append({"endpoint": name, **result})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/llm_teacher_health.json"))
    args = parser.parse_args()
    os.environ.setdefault(TEST_KEY_ENV, "bench")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for sub in ("prose", "malformed", "500", "hung"):
            (tmp / sub).mkdir()
        schema_rows = schema_episodes(tmp)
        unusable_rows = unusable_endpoints(tmp)
    import torch

    result = {
        "command": "python bench/llm_teacher_health.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_1min": round(os.getloadavg()[0], 1),
        "torch": torch.__version__,
        "schema_server_episodes": schema_rows,
        "unusable_endpoints": unusable_rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
