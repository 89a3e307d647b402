"""Batched scoring: many solutions per sandboxed process, each in a child of its own,
values sent back and judged outside."""

from __future__ import annotations

import json
import sys

import pytest

from dataenvgym.domains.code import batch
from dataenvgym.domains.code.batch import BatchJob, run_test_batch
from dataenvgym.domains.code.sandbox import ExecutionResult, SandboxConfig

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")

CFG = SandboxConfig(timeout_s=5.0, cpu_seconds=2, memory_mb=256, max_concurrency=2, niceness=10)
GOOD = BatchJob("def f(a):\n    return a + 1\n", (1, 5), (2, 6))
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
        BatchJob("def f(a):\n    return a + 2\n", GOOD.inputs, GOOD.expected),
        BatchJob("def f(a):\n    return 6 if a == 5 else 0\n", GOOD.inputs, GOOD.expected),
        BatchJob("def f(a) return", GOOD.inputs, GOOD.expected),
    ]
    verdicts = run_test_batch(jobs, CFG)
    assert [v.passed for v in verdicts] == [2, 0, 1, 0]
    assert verdicts[0].all_passed and not verdicts[2].all_passed
    assert verdicts[3].error is not None and "SyntaxError" in verdicts[3].error


def test_attacks_fail_alone_and_their_neighbours_still_pass() -> None:
    jobs: list[BatchJob] = []
    for source in ATTACKS.values():
        jobs += [BatchJob(source, (1,), (1,)), GOOD]
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
        [
            BatchJob(ATTACKS["poisons builtins"], (1,), (1,)),
            BatchJob("def f(a):\n    return len(a)\n", ([1],), (1,)),
        ],
        CFG,
        chunk_size=2,
    )
    assert later[1].all_passed


def test_a_run_that_dies_is_rerun_by_halves_and_only_the_lone_culprit_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulate a process that dies whenever job 2 is in it: 2 fails, the rest pass."""
    real = batch.run_python
    sizes: list[int] = []

    def dying_with_job_2(code: str, *, stdin: str, config: SandboxConfig) -> ExecutionResult:
        spec = json.loads(stdin)
        sizes.append(len(spec["jobs"]))
        result = real(code, stdin=stdin, config=config)
        if any("return a + 3" in job["solution"] for job in spec["jobs"]):
            return result.model_copy(update={"status": "killed"})
        return result

    monkeypatch.setattr(batch, "run_python", dying_with_job_2)
    culprit = BatchJob("def f(a):\n    return a + 3\n", GOOD.inputs, (4, 8))
    jobs = [GOOD, GOOD, culprit, GOOD, GOOD]
    verdicts = run_test_batch(jobs, CFG.model_copy(update={"max_concurrency": 1}), chunk_size=5)
    assert [v.all_passed for v in verdicts] == [True, True, False, True, True]
    assert verdicts[2].error is not None and "killed" in verdicts[2].error
    assert sizes == [5, 2, 3, 1, 2]


def test_a_process_that_never_starts_a_solution_fails_each_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No progress at all must not loop: each solution ends alone and fails, once."""
    calls: list[int] = []

    def never_forks(code: str, *, stdin: str, config: SandboxConfig) -> ExecutionResult:
        calls.append(len(json.loads(stdin)["jobs"]))
        return ExecutionResult(status="error", returncode=3, stdout="")

    monkeypatch.setattr(batch, "run_python", never_forks)
    verdicts = run_test_batch([GOOD] * 3, CFG.model_copy(update={"max_concurrency": 1}))
    assert [v.passed for v in verdicts] == [0, 0, 0]
    assert calls == [3, 1, 2, 1, 1]
    assert all(v.error is not None and "error" in v.error for v in verdicts)
