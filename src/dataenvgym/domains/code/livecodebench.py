"""LiveCodeBench code generation: loader, difficulty slices and sandboxed scoring.

Rows follow the Hugging Face dataset ``livecodebench/code_generation_lite`` (the name is
configurable): ``question_title``, ``question_content``, ``platform``, ``question_id``,
``contest_date``, ``starter_code``, ``difficulty`` (``easy``/``medium``/``hard``),
``public_test_cases`` (JSON list of ``{input, output, testtype}``), ``private_test_cases``
(the same list, either plain JSON or zlib-compressed pickled JSON in base64) and
``metadata`` (JSON; ``func_name`` for functional problems).

Two kinds of tests, as in the benchmark:

* ``stdin``: the program reads the input and must print the output (whitespace-normalised);
* ``functional`` (LeetCode): ``Solution().<func_name>(*args)`` with one JSON argument per
  input line must equal the JSON output.

Problems are sliced by difficulty (the benchmark's easy/medium/hard, which the paper reports
separately) and, optionally, by contest date (the benchmark's release windows).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pickle
import random
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dataenvgym.domains.code.humaneval import extract_code
from dataenvgym.domains.code.sandbox import (
    SandboxConfig,
    StdinTestsJob,
    TestOutcome,
    TestsJob,
    run_many,
)
from dataenvgym.errors import ConfigError
from dataenvgym.types import Score, Skill, TaskInstance, TrainingDatum

NAME = "livecodebench"
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")


class LiveCodeBenchConfig(BaseModel):
    """Where the problems come from and which slices to use."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        default="livecodebench/code_generation_lite", description="Hugging Face dataset name."
    )
    path: Path | None = Field(default=None, description="A local JSON/JSONL file instead.")
    split: str = "test"
    version_tag: str | None = Field(default=None, description="e.g. release_v2 (hub only).")
    difficulties: list[Difficulty] = Field(default_factory=lambda: list(DIFFICULTIES))
    start_date: dt.date | None = Field(default=None, description="Keep contests from then on.")
    end_date: dt.date | None = Field(default=None, description="Keep contests up to then.")
    val_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)
    max_tests: int | None = Field(default=None, ge=1, description="Cap tests per problem.")
    timeout_s: float = Field(default=6.0, gt=0)
    max_concurrency: int = Field(default=2, ge=1)


class _StrictUnpickler(pickle.Unpickler):
    """Private tests are pickled strings; refuse every global, so nothing can execute."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def decode_test_cases(raw: Any) -> list[dict[str, Any]]:
    """Test cases from a row's field: a list, JSON text, or base64(zlib(pickle(JSON)))."""
    if isinstance(raw, list):
        return raw
    if not raw:
        return []
    text = str(raw)
    try:
        return list(json.loads(text))
    except json.JSONDecodeError:
        pass
    try:
        unpickled = _StrictUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load()
    except Exception as err:
        raise ValueError(f"cannot decode test cases: {err}") from err
    return list(json.loads(unpickled) if isinstance(unpickled, str | bytes) else unpickled)


def _rows(config: LiveCodeBenchConfig) -> list[dict[str, Any]]:
    if config.path is not None:
        if not config.path.is_file():
            raise ConfigError(f"LiveCodeBench file {config.path} does not exist")
        text = config.path.read_text()
        if text.lstrip().startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    try:
        from datasets import load_dataset
    except ImportError as err:
        raise ConfigError("loading from the hub needs: pip install 'dataenvgym[hf]'") from err
    kwargs: dict[str, Any] = {"split": config.split, "trust_remote_code": False}
    if config.version_tag:
        kwargs["version_tag"] = config.version_tag
    try:
        return [dict(row) for row in load_dataset(config.dataset, **kwargs)]
    except Exception as err:  # offline, unknown name, ...
        raise ConfigError(f"cannot load dataset {config.dataset!r}: {err}") from err


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


def to_instance(row: dict[str, Any], max_tests: int | None = None) -> TaskInstance:
    """A LiveCodeBench row as a task instance (no reference solution: ``answer`` is empty)."""
    tests = decode_test_cases(row.get("public_test_cases")) + decode_test_cases(
        row.get("private_test_cases")
    )
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata) if metadata.strip() else {}
    kinds = {t.get("testtype", "stdin") for t in tests}
    if len(kinds) > 1:
        raise ValueError(f"problem {row.get('question_id')} mixes test types {sorted(kinds)}")
    starter = row.get("starter_code") or ""
    prompt = str(row["question_content"]).strip()
    if starter:
        prompt += f"\n\nStart from:\n```python\n{starter}\n```"
    return TaskInstance(
        id=str(row["question_id"]),
        domain=NAME,
        prompt=prompt,
        answer="",
        skill=str(row["difficulty"]),
        subskill=str(row.get("platform") or "unknown"),
        metadata={
            "title": row.get("question_title", ""),
            "testtype": kinds.pop() if kinds else "stdin",
            "func_name": metadata.get("func_name"),
            "tests": [[t["input"], t["output"]] for t in tests][:max_tests],
            "contest_date": str(row.get("contest_date") or ""),
        },
    )


def load_livecodebench(config: LiveCodeBenchConfig | None = None) -> list[TaskInstance]:
    """The problems of the configured slices (difficulty, contest dates)."""
    cfg = config or LiveCodeBenchConfig()
    instances = []
    for row in _rows(cfg):
        if row.get("difficulty") not in cfg.difficulties:
            continue
        date = _date(row.get("contest_date"))
        if date is not None and cfg.start_date is not None and date < cfg.start_date:
            continue
        if date is not None and cfg.end_date is not None and date > cfg.end_date:
            continue
        instances.append(to_instance(row, cfg.max_tests))
    return instances


def job_for(instance: TaskInstance, prediction: str) -> TestsJob | StdinTestsJob:
    """The sandbox job that checks ``prediction`` against the problem's tests."""
    code = extract_code(prediction)
    tests = [(str(i), str(o)) for i, o in instance.metadata["tests"]]
    if instance.metadata["testtype"] != "functional":
        return StdinTestsJob(solution=code, cases=tests)
    func = instance.metadata.get("func_name")
    if not func:
        raise ValueError(f"functional problem {instance.id} has no func_name")
    checks = [
        f"assert _call({inp!r}) == json.loads({out!r}), 'wrong answer on test {n}'"
        for n, (inp, out) in enumerate(tests)
    ]
    setup = (
        "import json\n"
        "def _call(text):\n"
        "    args = [json.loads(line) for line in text.split('\\n') if line.strip()]\n"
        f"    return Solution().{func}(*args)\n"
    )
    return TestsJob(solution=code, tests=[setup, *checks])


class LiveCodeBenchDomain:
    """LiveCodeBench as a :class:`~dataenvgym.protocols.Domain`: skills are difficulties.

    Args:
        config: Source and slices.
        instances: Already loaded problems (skips loading).
    """

    name = NAME

    def __init__(
        self,
        config: LiveCodeBenchConfig | None = None,
        instances: Sequence[TaskInstance] | None = None,
    ) -> None:
        self.config = config or LiveCodeBenchConfig()
        self.instances = (
            list(instances) if instances is not None else load_livecodebench(self.config)
        )
        if not self.instances:
            raise ConfigError("no LiveCodeBench problems in the configured slices")
        self.sandbox = SandboxConfig(
            timeout_s=self.config.timeout_s, max_concurrency=self.config.max_concurrency
        )

    def skills(self) -> list[Skill]:
        present = sorted({(i.skill or "", i.subskill or "") for i in self.instances})
        return [
            Skill(
                name=level,
                description=f"{level} problems",
                subskills={p: f"{level} problems from {p}" for lv, p in present if lv == level},
            )
            for level in DIFFICULTIES
            if any(lv == level for lv, _ in present)
        ]

    def splits(self, seed: int) -> tuple[list[TaskInstance], list[TaskInstance]]:
        """Disjoint validation/test splits, stratified by difficulty."""
        val: list[TaskInstance] = []
        test: list[TaskInstance] = []
        for level in DIFFICULTIES:
            group = [i for i in self.instances if i.skill == level]
            random.Random(f"lcb:{seed}:{level}").shuffle(group)
            cut = round(len(group) * self.config.val_fraction)
            val += group[:cut]
            test += group[cut:]
        return val, test

    def _outcome_score(self, outcome: TestOutcome) -> Score:
        total = len(outcome.tests) or 1
        passed = sum(t.passed for t in outcome.tests if t.kind == "test")
        tests = sum(t.kind == "test" for t in outcome.tests) or total
        return Score(correct=outcome.passed, partial=min(1.0, passed / tests))

    def score(self, instance: TaskInstance, prediction: str) -> Score:
        return self.score_many([instance], [prediction])[0]

    def score_many(
        self, instances: Sequence[TaskInstance], predictions: Sequence[str]
    ) -> list[Score]:
        """pass@1 (every test passes) and the share of tests passed."""
        jobs = [job_for(i, p) for i, p in zip(instances, predictions, strict=True)]
        return [self._outcome_score(o) for o in run_many(jobs, self.sandbox)]

    def verify(self, datum: TrainingDatum) -> str | None:
        return self.verify_many([datum])[0]

    def verify_many(self, data: Sequence[TrainingDatum]) -> list[str | None]:
        """A datum must pass the tests of its problem: a known problem's, or the ``tests``
        (with ``testtype`` and, for functional tests, ``func_name``) in its metadata, as an
        LLM engine writes them. A datum with neither cannot be checked and is refused.
        """
        by_prompt = {i.prompt: i for i in self.instances}
        reasons: list[str | None] = [None] * len(data)
        checked: list[tuple[int, TaskInstance, str]] = []
        for n, datum in enumerate(data):
            instance = by_prompt.get(datum.prompt)
            if instance is None and isinstance(datum.metadata.get("tests"), list):
                instance = TaskInstance(
                    id=datum.id,
                    domain=NAME,
                    prompt=datum.prompt,
                    answer="",
                    metadata={
                        "tests": datum.metadata["tests"],
                        "testtype": datum.metadata.get("testtype", "stdin"),
                        "func_name": datum.metadata.get("func_name"),
                    },
                )
            if instance is None or not instance.metadata["tests"]:
                reasons[n] = "no tests to check the datum against"
            else:
                checked.append((n, instance, datum.response))
        scores = self.score_many([i for _, i, _ in checked], [r for _, _, r in checked])
        for (n, instance, _), score in zip(checked, scores, strict=True):
            if not score.correct:
                reasons[n] = f"the response fails the tests of {instance.id}"
        return reasons
