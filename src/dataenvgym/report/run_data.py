"""Reading run folders back: the summary, each iteration's files, LLM usage where there is any.

A run folder is plain JSON and JSONL (see :mod:`dataenvgym.run_folder`); this module turns
it into one typed object that the figures, analyses, report and export all read from, and
is tolerant of what older or partial runs lack (no forest, no per-iteration test scores, no
LLM usage).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataenvgym.errors import DataEnvGymError
from dataenvgym.manifest import file_digest


class RunFolderError(DataEnvGymError):
    """A path is not a readable run folder (no summary.json, broken JSON)."""


#: Where LLM teachers leave their token accounting: the run folder's file holds the whole
#: run (``usage`` is :meth:`dataenvgym.llm.usage.UsageTracker.to_dict`), each iteration's
#: file that iteration's slice (``usage_by_role``).
USAGE_FILE = "llm_usage.json"


#: How every message about a damaged file of a run folder ends.
_FIX = "restore it from a copy of the run folder, or run the episode again"


def _unreadable(path: Path, what: str) -> RunFolderError:
    return RunFolderError(f"{path} {what}; {_FIX}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise _unreadable(path, "is missing") from err
    except UnicodeDecodeError as err:
        raise _unreadable(path, "is not text (damaged)") from err
    except OSError as err:
        raise _unreadable(path, f"cannot be read ({err.strerror or type(err).__name__})") from err


def _read_json(path: Path, kind: type = dict) -> Any:
    """A JSON file holding a ``kind`` (an object, by default)."""
    try:
        value = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise _unreadable(path, f"is not valid JSON (line {err.lineno}: {err.msg})") from err
    if not isinstance(value, kind):
        raise _unreadable(path, f"holds a JSON {type(value).__name__}, not a {kind.__name__}")
    return value


def _read_jsonl(path: Path, *, required: bool = False) -> list[dict[str, Any]]:
    """One JSON object per line; a missing file is no rows unless ``required``."""
    if not required and not path.exists():
        return []
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise _unreadable(path, f"line {number} is not valid JSON ({err.msg})") from err
        if not isinstance(row, dict):
            raise _unreadable(path, f"line {number} is not a JSON object")
        rows.append(row)
    return rows


def _sha256(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError as err:
        raise _unreadable(path, f"cannot be read ({err.strerror or type(err).__name__})") from err


def _check_summary(path: Path, summary: dict[str, Any]) -> None:
    """The keys every reader of a summary relies on."""
    for part in ("initial", "final"):
        scores = summary.get(part)
        if not isinstance(scores, dict) or not isinstance(scores.get("test_accuracy"), int | float):
            raise _unreadable(path, f"lacks {part}.test_accuracy")
    if not isinstance(summary.get("iterations"), list):
        raise _unreadable(path, "lacks its iterations")


@dataclass
class IterationData:
    """What one ``iteration_NNN/`` folder holds.

    Attributes:
        index: 0 for the base student, then 1, 2, ...
        report: ``report.json``: ``info`` (validation scores, data counts), ``test`` (test
            scores, ``None`` when the test split was not scored that iteration), ``reward``,
            and ``forest`` for Skill-Tree runs.
        plan: ``plan.json`` (the action without its data), ``None`` for iteration 0.
        path: The folder.
    """

    index: int
    report: dict[str, Any]
    plan: dict[str, Any] | None
    path: Path

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.report.get("info") or {})

    @property
    def test(self) -> dict[str, Any] | None:
        test = self.report.get("test")
        # Runs scored on test only at the end carry an earlier iteration's scores in between.
        if not test or self.report.get("test_measured") is False:
            return None
        return dict(test)

    @property
    def forest(self) -> dict[str, Any] | None:
        forest = self.report.get("forest")
        return dict(forest) if forest else None

    def data(self) -> list[dict[str, Any]]:
        """The kept training data of this iteration (``data.jsonl``).

        Raises:
            RunFolderError: the file is missing (iterations 1..N have one), unreadable, or
                holds fewer or more rows than ``report.json`` counts (cut short).
        """
        path = self.path / "data.jsonl"
        rows = _read_jsonl(path, required=self.index > 0)
        expected = self.info.get("num_new_data")
        if self.index > 0 and isinstance(expected, int) and len(rows) != expected:
            raise _unreadable(path, f"holds {len(rows)} data, its report.json counts {expected}")
        for number, row in enumerate(rows, start=1):
            missing = [key for key in ("id", "domain", "prompt", "response") if key not in row]
            if missing:
                raise _unreadable(path, f"line {number} lacks {', '.join(missing)}")
        return rows

    def val_results(self) -> list[dict[str, Any]]:
        """The evaluated validation instances after this iteration's training.

        Raises:
            RunFolderError: the file is missing, unreadable, or a row is no evaluated instance.
        """
        path = self.path / "val_results.jsonl"
        rows = _read_jsonl(path, required=True)
        for number, row in enumerate(rows, start=1):
            instance = row.get("instance")
            if not isinstance(instance, dict) or "id" not in instance or "correct" not in row:
                raise _unreadable(path, f"line {number} is not an evaluated instance")
        return rows


@dataclass
class RunData:
    """One run folder, loaded.

    Attributes:
        root: The folder.
        summary: ``summary.json``.
        config: ``config.yaml`` (empty when missing).
        iterations: Iteration 0 (the base student) first.
        usage: The run's ``llm_usage.json`` (``None`` when no LLM was used).
        iteration_usage: Each iteration's ``llm_usage.json``, by iteration.
    """

    root: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    iterations: list[IterationData]
    usage: dict[str, Any] | None = None
    iteration_usage: dict[int, dict[str, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def env(self) -> str:
        return str(self.summary.get("env", "?"))

    @property
    def domain(self) -> str:
        return str(self.summary.get("domain", "?"))

    @property
    def agent(self) -> str:
        return str(self.summary.get("agent", "?"))

    @property
    def seed(self) -> int | None:
        seed = self.summary.get("seed")
        return int(seed) if seed is not None else None

    @property
    def teacher(self) -> dict[str, str]:
        """Policy and engine names (``agent`` when the run predates their recording)."""
        teacher = self.summary.get("teacher") or {}
        if not isinstance(teacher, dict):
            teacher = {"engine": teacher}
        model = (self.usage or {}).get("teacher")
        return {
            "policy": str(teacher.get("policy", self.agent)),
            "engine": str(teacher.get("engine", model or "unknown")),
        }

    @property
    def group(self) -> tuple[str, str, str]:
        """What seeds are averaged over: (env, domain, agent)."""
        return (self.env, self.domain, self.agent)

    # ------------------------------------------------------------------ series

    @property
    def steps(self) -> list[int]:
        return [it.index for it in self.iterations]

    def val_accuracy(self) -> list[float]:
        return [float(it.info.get("val_accuracy", float("nan"))) for it in self.iterations]

    def test_accuracy(self) -> list[float | None]:
        return [
            float(test["accuracy"]) if (test := it.test) is not None else None
            for it in self.iterations
        ]

    def rewards(self) -> list[float]:
        return [float(it.report.get("reward", 0.0)) for it in self.iterations[1:]]

    def units(self, level: str = "subskill") -> list[str]:
        """Skill (``level="skill"``) or ``skill/subskill`` keys, in first-seen order."""
        key = "per_skill" if level == "skill" else "per_subskill"
        seen: dict[str, None] = {}
        for part in ("initial", "final"):
            seen.update(dict.fromkeys((self.summary.get(part) or {}).get(f"test_{key}", {})))
        for it in self.iterations:
            seen.update(dict.fromkeys(it.info.get(key, {})))
        return sorted(seen)

    def accuracy_matrix(self, split: str = "test", level: str = "subskill") -> list[list[float]]:
        """Rows: :meth:`units`; columns: iterations. ``nan`` where not measured."""
        key = "per_skill" if level == "skill" else "per_subskill"
        columns = []
        for it in self.iterations:
            scores = it.test if split == "test" else it.info
            columns.append((scores or {}).get(key, {}))
        return [
            [float(col.get(unit, float("nan"))) for col in columns] for unit in self.units(level)
        ]

    def data_per_subskill(self) -> list[dict[str, int]]:
        """Kept training data per ``skill/subskill``, for iterations 1..N."""
        return [dict(it.info.get("data_per_subskill", {})) for it in self.iterations[1:]]

    def total_data_per_subskill(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self.data_per_subskill():
            for key, count in counts.items():
                totals[key] = totals.get(key, 0) + int(count)
        return totals

    def test_per_unit(self, which: str, level: str = "subskill") -> dict[str, float]:
        """``summary[which]["test_per_skill"|"test_per_subskill"]``; which: initial/final."""
        key = "test_per_skill" if level == "skill" else "test_per_subskill"
        return {k: float(v) for k, v in (self.summary.get(which) or {}).get(key, {}).items()}

    def all_data(self) -> Iterator[dict[str, Any]]:
        """Every kept training datum of the run, iteration by iteration."""
        for it in self.iterations[1:]:
            yield from it.data()


def load_run(path: str | Path) -> RunData:
    """Load one run folder.

    Raises:
        RunFolderError: when ``path`` has no ``summary.json`` (not a finished run) or a file
            in it is not valid JSON/YAML.
    """
    root = Path(path)
    summary_path = root / "summary.json"
    if not summary_path.is_file():
        raise RunFolderError(
            f"{root} is not a finished run folder: it has no summary.json "
            "(run `dataenvgym run --out DIR` first)"
        )
    summary = _read_json(summary_path)
    _check_summary(summary_path, summary)
    config: dict[str, Any] = {}
    config_path = root / "config.yaml"
    if config_path.is_file():
        recorded = summary.get("config_sha256")
        if isinstance(recorded, str) and recorded != _sha256(config_path):
            raise _unreadable(config_path, "does not match the checksum in summary.json")
        try:
            config = yaml.safe_load(_read_text(config_path)) or {}
        except yaml.YAMLError as err:
            raise _unreadable(config_path, "is not valid YAML") from err
        if not isinstance(config, dict):
            raise _unreadable(config_path, "does not hold a mapping of settings")
    # A finished run wrote a report for the base student and for every iteration it lists.
    listed = {0} | {
        row["iteration"]
        for row in summary["iterations"]
        if isinstance(row, dict) and isinstance(row.get("iteration"), int)
    }
    iterations = []
    for folder in sorted(root.glob("iteration_[0-9][0-9][0-9]")):
        index = int(folder.name.split("_")[1])
        report_path = folder / "report.json"
        if not report_path.exists() and index not in listed:
            continue  # an iteration interrupted before its report was written
        plan_path = folder / "plan.json"
        report = _read_json(report_path)
        if not isinstance(report.get("info", {}), dict):
            raise _unreadable(report_path, "has an info that is not a JSON object")
        iterations.append(
            IterationData(
                index=index,
                report=report,
                plan=_read_json(plan_path) if plan_path.exists() else None,
                path=folder,
            )
        )
    missing = sorted(listed - {it.index for it in iterations})
    if missing:
        raise _unreadable(root / f"iteration_{missing[0]:03d}" / "report.json", "is missing")
    usage = _read_json(root / USAGE_FILE) if (root / USAGE_FILE).exists() else None
    iteration_usage = {
        it.index: _read_json(it.path / USAGE_FILE)
        for it in iterations
        if (it.path / USAGE_FILE).exists()
    }
    return RunData(
        root=root,
        summary=summary,
        config=config,
        iterations=iterations,
        usage=usage,
        iteration_usage=iteration_usage,
    )


def find_runs(paths: Iterable[str | Path]) -> list[RunData]:
    """Load every run under ``paths``: run folders themselves, or folders that contain runs.

    Raises:
        RunFolderError: when a path does not exist or holds no finished run.
    """
    runs: list[RunData] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise RunFolderError(f"{path} does not exist")
        if (path / "summary.json").is_file():
            runs.append(load_run(path))
            continue
        found = sorted(p.parent for p in path.rglob("summary.json"))
        if not found:
            raise RunFolderError(
                f"{path} holds no finished run (no summary.json in it or below it)"
            )
        runs.extend(load_run(p) for p in found)
    return runs
