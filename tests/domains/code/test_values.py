"""Tagged values: exact-type comparison, and untrusted text that is malformed or too big."""

from __future__ import annotations

import collections
import json
import sys
from typing import Any

import pytest

from dataenvgym.domains.code.batch import BatchJob, Checks, PreparedJob, judge, run_test_batch
from dataenvgym.domains.code.sandbox import SandboxConfig
from dataenvgym.domains.code.values import MalformedValue, canonical, decode, encode


def same(a: Any, b: Any) -> bool:
    return canonical(encode(a)) == canonical(encode(b))


def test_exact_types() -> None:
    assert same(1, 1) and same([1, (2, "x")], [1, (2, "x")])
    assert not same(1, 1.0) and not same(1, True) and not same(0, False)
    assert not same([1, 2], (1, 2)) and not same("1", 1) and not same(None, 0)
    assert same({1: 2, 3: 4}, {3: 4, 1: 2})
    assert not same({1: "a"}, {True: "a"})
    assert same(collections.Counter("aab"), {"a": 2, "b": 1})
    assert same(float("nan"), float("nan")) and same(-0.0, 0.0)
    for value in [None, True, 3, 2.5, "s", [1, [2]], (1,), {1: (2.0, None)}]:
        assert decode(encode(value)) == value


def test_unsupported_values_do_not_encode() -> None:
    with pytest.raises(TypeError):
        encode({1, 2})
    with pytest.raises(TypeError):
        encode(type("I", (int,), {})(3))


@pytest.mark.parametrize(
    "node",
    [
        1.5,  # an untagged float
        ["x", 1],  # an unknown tag
        [],
        ["f", "one"],
        ["f", 1.5],
        ["d", [1]],
        ["d", [1, 2], [1, 3]],  # a key twice
        {"a": 1},
        ["l", ["f"]],
    ],
)
def test_malformed_nodes_are_refused(node: Any) -> None:
    with pytest.raises(MalformedValue):
        canonical(node)


def test_too_deep_is_refused() -> None:
    node: Any = 1
    for _ in range(60):
        node = ["l", node]
    with pytest.raises(MalformedValue):
        canonical(node)


def test_judge_treats_any_text_as_that_solution_s_failure() -> None:
    job = PreparedJob("", Checks.of([1, 2], [2, 3]))
    texts = [
        "",
        "{",
        "[1, 2, 3]",
        '["R"]',
        '["R", [2, 3, 4]]',  # more results than inputs
        '["R", [2, {"a": 1}]]',
        '["R", [2, ["f", "3.0"]]]',
        "[" * 100000,
        '["S", 5]',
        json.dumps(["R", [2, ["e", "ValueError: no"]]]),
    ]
    for text in texts:
        verdict = judge(job, "ok", text)
        assert not verdict.all_passed and verdict.error, text
    assert judge(job, "ok", '["R", [2, 3]]').all_passed
    assert judge(job, "ok", '["R",[2,3]]').all_passed  # spelling does not matter
    assert judge(job, "ok", '["R", [2]]').passed == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")
def test_oversized_and_odd_results_fail_their_solution_only() -> None:
    cfg = SandboxConfig(timeout_s=5.0, cpu_seconds=2, memory_mb=256, max_concurrency=1)
    good = BatchJob("def f(a):\n    return a + 1\n", (1,), (2,))
    odd = [
        "def f(a):\n    return list(range(10**6))\n",  # over the result cap
        "def f(a):\n    x = []\n    x.append(x)\n    return x\n",  # cyclic
        "def f(a):\n    return 10**5000\n",  # too many digits for JSON
        "def f(a):\n    return {1, 2}\n",  # a set: not a plain value
        "import os\ndef f(a):\n    os.write(3, b'\\xff' * 10)\n    return a + 1\n",
    ]
    jobs = [job for source in odd for job in (BatchJob(source, (1,), (2,)), good)]
    verdicts = run_test_batch(jobs, cfg, chunk_size=len(jobs))
    assert [v.all_passed for v in verdicts[::2]] == [False] * len(odd)
    assert all(v.all_passed for v in verdicts[1::2])
