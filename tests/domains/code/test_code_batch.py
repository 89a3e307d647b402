"""Batched scoring: many solutions per sandboxed process, each in a child of its own."""

from __future__ import annotations

import json
import sys

import pytest

from dataenvgym.domains.code import batch
from dataenvgym.domains.code.batch import BatchJob, run_test_batch
from dataenvgym.domains.code.sandbox import ExecutionResult, SandboxConfig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

CFG = SandboxConfig(timeout_s=5.0, cpu_seconds=2, memory_mb=256, max_concurrency=2, niceness=10)
GOOD = BatchJob("def f(a):\n    return a + 1\n", ("assert f(1) == 2", "assert f(5) == 6"))
ATTACKS = {
    "infinite loop": "def f(a):\n    while True:\n        pass\n",
    "memory bomb": "def f(a):\n    return [0] * 10**10\n",
    "fork bomb": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    ),
    "early exit": "import os\nos._exit(0)\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "huge output": "print('x' * 10**7)\ndef f(a):\n    return a\n",
    "poisons builtins": "import builtins\nbuiltins.len = lambda x: 0\ndef f(a):\n    return a\n",
}


def test_correct_wrong_and_partial() -> None:
    jobs = [
        GOOD,
        BatchJob("def f(a):\n    return a + 2\n", GOOD.tests),
        BatchJob("def f(a):\n    return 6 if a == 5 else 0\n", GOOD.tests),
        BatchJob("def f(a) return", GOOD.tests),
    ]
    verdicts = run_test_batch(jobs, CFG)
    assert [v.passed for v in verdicts] == [2, 0, 1, 0]
    assert verdicts[0].all_passed and not verdicts[2].all_passed
    assert verdicts[3].error is not None and "SyntaxError" in verdicts[3].error


def test_attacks_fail_alone_and_their_neighbours_still_pass() -> None:
    jobs: list[BatchJob] = []
    for source in ATTACKS.values():
        jobs += [BatchJob(source, ("assert f(1) == 1",)), GOOD]
    verdicts = run_test_batch(jobs, CFG, per_job_timeout=1.0, chunk_size=len(jobs))
    for index, name in enumerate(ATTACKS):
        attack, neighbour = verdicts[2 * index], verdicts[2 * index + 1]
        if name in ("huge output", "poisons builtins"):
            assert attack.all_passed, name  # harmless here: output is discarded
        else:
            assert not attack.all_passed, (name, attack)
        assert neighbour.all_passed, (name, neighbour)
    # The builtins were poisoned in that child only: later jobs see the real len().
    later = run_test_batch(
        [BatchJob(ATTACKS["poisons builtins"], ()), BatchJob("", ("assert len([1]) == 1",))],
        CFG,
        chunk_size=2,
    )
    assert later[1].all_passed


def test_a_process_that_dies_costs_one_job_and_the_rest_are_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulate the sandboxed process dying after its second job: job 3 fails, 4-5 rerun."""
    real = batch.run_python
    runs: list[int] = []

    def dying(code: str, *, stdin: str, config: SandboxConfig) -> ExecutionResult:
        result = real(code, stdin=stdin, config=config)
        runs.append(len(result.stdout.splitlines()))
        if len(runs) == 1:
            kept = "\n".join(result.stdout.splitlines()[:2])
            return result.model_copy(update={"stdout": kept, "status": "killed"})
        return result

    monkeypatch.setattr(batch, "run_python", dying)
    one_at_a_time = CFG.model_copy(update={"max_concurrency": 1})
    verdicts = run_test_batch([GOOD] * 5, one_at_a_time, chunk_size=5)
    assert [v.all_passed for v in verdicts] == [True, True, False, True, True]
    assert verdicts[2].error is not None and "killed" in verdicts[2].error
    assert runs == [5, 2]


def test_a_solution_the_process_could_not_start_is_retried_not_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process reports it could not fork job 2 (the process limit still held): 2-4 rerun."""
    real = batch.run_python
    jobs_per_run: list[int] = []

    def cannot_fork_third(code: str, *, stdin: str, config: SandboxConfig) -> ExecutionResult:
        jobs_per_run.append(len(json.loads(stdin)["jobs"]))
        result = real(code, stdin=stdin, config=config)
        if len(jobs_per_run) == 1:
            nonce = json.loads(stdin)["nonce"]
            kept = [*result.stdout.splitlines()[:2], f'{nonce} {{"unstarted": 2}}']
            return result.model_copy(update={"stdout": "\n".join(kept), "status": "error"})
        return result

    monkeypatch.setattr(batch, "run_python", cannot_fork_third)
    one_at_a_time = CFG.model_copy(update={"max_concurrency": 1})
    verdicts = run_test_batch([GOOD] * 5, one_at_a_time, chunk_size=5)
    assert all(v.all_passed for v in verdicts)
    assert jobs_per_run == [5, 3]


def test_a_process_that_cannot_start_its_first_solution_fails_it_and_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No progress at all must not loop: the first unstarted solution is failed, once."""
    calls: list[int] = []

    def never_forks(code: str, *, stdin: str, config: SandboxConfig) -> ExecutionResult:
        spec = json.loads(stdin)
        calls.append(len(spec["jobs"]))
        line = f'{spec["nonce"]} {{"unstarted": 0}}'
        return ExecutionResult(status="error", returncode=3, stdout=line)

    monkeypatch.setattr(batch, "run_python", never_forks)
    verdicts = run_test_batch([GOOD] * 3, CFG.model_copy(update={"max_concurrency": 1}))
    assert [v.passed for v in verdicts] == [0, 0, 0]
    assert calls == [3, 2, 1]
    assert all(v.error is not None and "error" in v.error for v in verdicts)
