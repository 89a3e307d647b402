"""The LLM teacher's shared parts: settings, the client, and what it counts and writes.

One :class:`LLMTeacher` is shared by the policy, the engine (and LLM skill discovery) of a
run: one client (so one cache, one concurrency limit, one usage tracker) and one ledger of
the data the engine threw away. With a run folder it writes ``llm_usage.json`` at the root
and ``iteration_NNN/llm_usage.json`` after every iteration's data is written; the API key is
never among what it writes (only the name of its environment variable is a setting).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataenvgym.errors import ConfigError, first_validation_error
from dataenvgym.llm import LLMClient, LLMConfig

#: The teacher spec prefix for OpenAI-compatible endpoints: ``openai:MODEL``.
OPENAI_PREFIX = "openai:"
USAGE_FILE = "llm_usage.json"


class TeacherOptions(BaseModel):
    """How the LLM policies, engine and skill discovery use the model.

    Attributes are documented by purpose; all have defaults that suit a capable chat model.
    """

    model_config = ConfigDict(extra="forbid")

    items_per_call: int = Field(
        default=10, ge=1, le=100, description="Training examples asked of one engine call."
    )
    max_topups: int = Field(
        default=2, ge=0, description="Extra engine rounds for targets left short after drops."
    )
    max_reasks: int = Field(
        default=2, ge=0, description="Re-asks of a malformed structured answer, then skip."
    )
    max_errors_shown: int = Field(
        default=24, ge=1, description="Student errors shown to a policy (Open-Ended, per skill)."
    )
    max_specs: int = Field(default=8, ge=1, description="Open-Ended data specs kept per step.")
    max_hypotheses: int = Field(default=4, ge=1, description="Skill-List hypotheses per skill.")
    max_new_subskills: int = Field(
        default=4, ge=1, description="Skill-Tree subskills proposed per skill per step."
    )
    examples_per_target: int = Field(
        default=3, ge=0, description="Student errors shown to the engine as format examples."
    )
    discovery_max_skills: int = Field(
        default=6, ge=1, description="LLM skill discovery: most skills after merging labels."
    )
    discovery_batch: int = Field(
        default=20, ge=1, description="LLM skill discovery: instances per labelling call."
    )
    discovery_subskills: int = Field(
        default=3, ge=0, description="LLM skill discovery: subskills proposed per skill."
    )
    discovery_assign_rounds: int = Field(
        default=2, ge=0, description="LLM skill discovery: re-asks for unmapped instances."
    )


def parse_teacher(spec: str) -> str | None:
    """The model name of an ``openai:MODEL`` teacher; None for ``procedural``.

    Raises:
        ConfigError: Any other spelling (one line naming the accepted forms).
    """
    if spec == "procedural":
        return None
    if spec.startswith(OPENAI_PREFIX) and spec[len(OPENAI_PREFIX) :].strip():
        return spec[len(OPENAI_PREFIX) :].strip()
    raise ConfigError(
        f"unknown teacher {spec!r}: use 'procedural' or 'openai:MODEL' (any OpenAI-compatible "
        "endpoint; set --base-url for vLLM, Ollama, llama.cpp, LiteLLM or Azure)"
    )


def split_settings(
    model: str, base_url: str | None, settings: Mapping[str, Any], run_dir: Path | None
) -> tuple[LLMConfig, TeacherOptions]:
    """Validate the ``llm:`` settings of a run config into a client config and options.

    Keys that are :class:`~dataenvgym.llm.LLMConfig` fields go to the client (the cache path
    defaults to ``RUN/llm_cache.sqlite``), keys of :class:`TeacherOptions` to the teacher.

    Raises:
        ConfigError: An unknown key or an invalid value, in one line.
    """
    client_keys = set(LLMConfig.model_fields) - {"model", "base_url"}
    option_keys = set(TeacherOptions.model_fields)
    unknown = sorted(set(settings) - client_keys - option_keys)
    if unknown:
        raise ConfigError(
            f"unknown llm setting(s) {unknown}; known: {sorted(client_keys | option_keys)}"
        )
    client = {k: v for k, v in settings.items() if k in client_keys}
    if client.get("cache_path") is None and run_dir is not None:
        client["cache_path"] = run_dir / "llm_cache.sqlite"
    try:
        config = LLMConfig(model=model, base_url=base_url, **client)
        options = TeacherOptions(**{k: v for k, v in settings.items() if k in option_keys})
    except ValidationError as err:
        raise ConfigError(f"invalid llm setting {first_validation_error(err)}") from err
    return config, options


def call_seed(*parts: object) -> int:
    """A stable per-call sampling seed from the parts that make a call distinct."""
    return zlib.crc32(":".join(map(str, parts)).encode()) & 0x7FFFFFFF


class EngineLedger:
    """Per iteration: data asked for, kept, dropped by reason, calls lost, shortfalls.

    Thread-safe, since engine batches are processed while other calls are in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[str, Counter[str]] = {}

    def add(self, iteration: int | str, **counts: int) -> None:
        """Add counts (``requested``, ``kept``, ``dropped_<reason>``, ...) to an iteration."""
        with self._lock:
            self._cells.setdefault(str(iteration), Counter()).update(counts)

    def clear(self, iteration: int | str) -> None:
        """Forget an iteration's counts (before it is generated again)."""
        with self._lock:
            self._cells.pop(str(iteration), None)

    def get(self, iteration: int | str) -> dict[str, int]:
        """The counts of one iteration (empty if none)."""
        with self._lock:
            return dict(self._cells.get(str(iteration), Counter()))

    def to_dict(self) -> dict[str, Any]:
        """Per iteration, and the total, with ``dropped_total`` summed over reasons."""
        with self._lock:
            cells = {k: Counter(v) for k, v in self._cells.items()}
        total: Counter[str] = Counter()
        for cell in cells.values():
            total.update(cell)
        return {
            "total": _with_dropped_total(total),
            "by_iteration": {k: _with_dropped_total(v) for k, v in sorted(cells.items())},
        }


def _with_dropped_total(cell: Counter[str]) -> dict[str, int]:
    out = dict(sorted(cell.items()))
    out["dropped_total"] = sum(v for k, v in cell.items() if k.startswith("dropped_"))
    return out


class LLMTeacher:
    """The client, options and ledgers shared by one run's LLM roles.

    Args:
        config: The endpoint (its ``cache_path`` is where completions are cached).
        options: How the roles use the model.
        run_dir: When set, usage and drops are written there after every iteration.
        client: An existing client to share instead of opening one from ``config``.
    """

    def __init__(
        self,
        config: LLMConfig,
        options: TeacherOptions | None = None,
        *,
        run_dir: Path | None = None,
        client: LLMClient | None = None,
    ) -> None:
        self.config = config
        self.options = options or TeacherOptions()
        self.run_dir = run_dir
        self.client = client or LLMClient(config)
        self.engine_ledger = EngineLedger()
        #: Plans that fell back to a rule because the model's answer was unusable.
        self.policy_fallbacks: Counter[str] = Counter()
        #: Filled in by LLM skill discovery (labels, merges, re-asks, fallbacks).
        self.discovery_stats: dict[str, Any] = {}
        #: Usage reports of earlier sessions of this run folder (a resumed run keeps them).
        self.earlier_sessions: list[dict[str, Any]] = _earlier_sessions(run_dir)

    @classmethod
    def from_spec(
        cls,
        teacher: str,
        *,
        base_url: str | None = None,
        settings: Mapping[str, Any] | None = None,
        run_dir: Path | None = None,
    ) -> LLMTeacher:
        """Build from the run config's ``teacher``, ``base_url`` and ``llm`` settings.

        Raises:
            ConfigError: ``teacher`` is not ``openai:MODEL`` or a setting is invalid.
        """
        model = parse_teacher(teacher)
        if model is None:
            raise ConfigError("the procedural teacher needs no LLM; use 'openai:MODEL'")
        config, options = split_settings(model, base_url, settings or {}, run_dir)
        return cls(config, options, run_dir=run_dir)

    @property
    def name(self) -> str:
        """``openai:MODEL``, as shown in run folders."""
        return f"{OPENAI_PREFIX}{self.config.model}"

    def check(self) -> None:
        """One cheap request; raises :class:`~dataenvgym.llm.LLMUnavailable` (one line)."""
        self.client.check_connection()

    def usage_report(self) -> dict[str, Any]:
        """Calls, tokens, retries and failures per iteration × role, with the engine's drops."""
        return {
            "teacher": self.name,
            "endpoint": self.config.endpoint(),
            "usage": self.client.usage.to_dict(),
            "engine": self.engine_ledger.to_dict(),
            "policy_fallbacks": dict(self.policy_fallbacks),
            "skill_discovery": self.discovery_stats,
            "earlier_sessions": self.earlier_sessions,
        }

    def iteration_report(self, iteration: int) -> dict[str, Any]:
        """One iteration's slice of :meth:`usage_report`."""
        usage = self.client.usage.to_dict()
        return {
            "iteration": iteration,
            "usage_by_role": usage["by_iteration_role"].get(str(iteration), {}),
            "usage": usage["by_iteration"].get(str(iteration)),
            "engine": _with_dropped_total(Counter(self.engine_ledger.get(iteration))),
        }

    def write_usage(self, iteration: int | None = None) -> None:
        """Write ``llm_usage.json`` (and the iteration's own file) into the run folder."""
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.run_dir / USAGE_FILE, self.usage_report())
        if iteration is not None:
            folder = self.run_dir / f"iteration_{iteration:03d}"
            folder.mkdir(exist_ok=True)
            report = self.iteration_report(iteration)
            # A resumed run replays finished iterations from the cache: keep their own file.
            replayed = (report["usage"] or {}).get("calls", 0) == 0 and self.earlier_sessions
            if not ((folder / USAGE_FILE).exists() and replayed):
                _write_json(folder / USAGE_FILE, report)

    def close(self) -> None:
        """Write the final usage and close the client's connections and cache."""
        self.write_usage()
        self.client.close()


def _earlier_sessions(run_dir: Path | None) -> list[dict[str, Any]]:
    """The usage of earlier sessions in ``run_dir`` (each without its own history)."""
    path = run_dir / USAGE_FILE if run_dir is not None else None
    if path is None or not path.is_file():
        return []
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return []
    earlier = list(report.pop("earlier_sessions", []))
    return [*earlier, report]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
