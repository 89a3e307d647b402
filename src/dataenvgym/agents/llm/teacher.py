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
    repair_answers: bool = Field(
        default=True,
        description=(
            "Where the domain can compute the answer to a question (arithmetic), keep a "
            "well-formed question whose answer is wrong with the right answer (counted as "
            "repaired_answers) instead of dropping it."
        ),
    )
    min_delivered_share: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description=(
            "Teacher health: an iteration whose kept training data is below this share of the "
            "iteration's budget is degraded (the run stops unless --allow-degraded)."
        ),
    )
    max_policy_fallback_share: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description=(
            "Teacher health: an iteration where more than this share of the policy's "
            "decisions fell back to a rule is degraded; 1.0 (default) never stops for it."
        ),
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
        #: Per iteration: policy ``decisions`` made and how many fell back (``fallbacks``).
        self.policy_ledger = EngineLedger()
        #: Filled in by LLM skill discovery (labels, merges, re-asks, fallbacks).
        self.discovery_stats: dict[str, Any] = {}
        #: Usage reports of earlier sessions of this run folder (a resumed run keeps them).
        self.earlier_sessions: list[dict[str, Any]] = _earlier_sessions(run_dir)
        #: Teacher health of every iteration checked so far (see :meth:`health`).
        self.health_by_iteration: dict[str, dict[str, Any]] = {}
        self._resume_output_mode()

    def _resume_output_mode(self) -> None:
        """Start at the structured-output mode an earlier session of this run was refused
        down to (modes it stepped down from because answers ignored them are tried again)."""
        for report in reversed(self.earlier_sessions):
            found = (report.get("structured_output") or {}).get("refused_down_to")
            if report.get("endpoint") == self.config.endpoint() and isinstance(found, str):
                self.client.transport.modes.resume_at(found)
                return

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

    def check(self) -> str | None:
        """Cheap requests; raises :class:`~dataenvgym.llm.LLMUnavailable` (one line).

        Returns:
            A note when the model id could not be looked up in the server's model list.
        """
        return self.client.check_connection()

    def record_decision(self, iteration: int, *, fallback: str | None = None) -> None:
        """Count one policy decision of ``iteration``; ``fallback`` names the rule that stood
        in for an unusable answer."""
        self.policy_ledger.add(iteration, decisions=1, fallbacks=int(fallback is not None))
        if fallback is not None:
            self.policy_fallbacks[fallback] += 1

    def health(self, iteration: int, budget: int) -> dict[str, Any]:
        """How much of ``iteration`` the teacher delivered, and whether that is degraded.

        Args:
            iteration: The iteration (1-based) whose plan and data were just made.
            budget: The training data the iteration could have had.

        Returns:
            ``budget``, ``requested`` (what the plan asked of the engine), ``delivered``
            (kept), ``delivered_share`` (delivered / budget), ``policy_decisions``,
            ``policy_fallbacks``, ``policy_fallback_share``, the thresholds, ``degraded``
            and, when degraded, ``reason``.
        """
        engine = self.engine_ledger.get(iteration)
        policy = self.policy_ledger.get(iteration)
        delivered = engine.get("kept", 0)
        decisions, fallbacks = policy.get("decisions", 0), policy.get("fallbacks", 0)
        share = delivered / budget if budget > 0 else 1.0
        fallback_share = fallbacks / decisions if decisions else 0.0
        opts = self.options
        reasons = []
        if share < opts.min_delivered_share:
            reasons.append(
                f"it delivered {delivered} of {budget} training data "
                f"({share:.0%}, below {opts.min_delivered_share:.0%})"
            )
        if fallback_share > opts.max_policy_fallback_share:
            reasons.append(
                f"{fallbacks} of {decisions} policy decisions fell back to a rule "
                f"(above {opts.max_policy_fallback_share:.0%})"
            )
        health: dict[str, Any] = {
            "budget": budget,
            "requested": engine.get("requested", 0),
            "delivered": delivered,
            "delivered_share": round(share, 4),
            "policy_decisions": decisions,
            "policy_fallbacks": fallbacks,
            "policy_fallback_share": round(fallback_share, 4),
            "min_delivered_share": opts.min_delivered_share,
            "max_policy_fallback_share": opts.max_policy_fallback_share,
            "degraded": bool(reasons),
        }
        if reasons:
            health["reason"] = "; ".join(reasons)
            health["calls"] = _call_outcomes(self.client.usage.total(iteration=iteration))
        self.health_by_iteration[str(iteration)] = health
        return health

    def on_degraded(self) -> None:
        """The run stops for an unusable teacher: forget the cached answers that gave no
        valid object (a resumed run asks the fixed endpoint again) and write the usage."""
        self.client.forget_invalid()
        self.write_usage()

    def usage_report(self) -> dict[str, Any]:
        """Calls, tokens, retries and failures per iteration × role, with the engine's drops."""
        return {
            "teacher": self.name,
            "endpoint": self.config.endpoint(),
            "structured_output": self.client.transport.modes.to_dict(),
            "usage": self.client.usage.to_dict(),
            "engine": self.engine_ledger.to_dict(),
            "policy": self.policy_ledger.to_dict(),
            "policy_fallbacks": dict(self.policy_fallbacks),
            "teacher_health": dict(self.health_by_iteration),
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
            "policy": self.policy_ledger.get(iteration),
            "teacher_health": self.health_by_iteration.get(str(iteration)),
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


def _call_outcomes(stats: Any) -> str:
    """What happened to the calls of an iteration, for the one line of a degraded stop."""
    return (
        f"{stats.calls} answered, {stats.invalid_outputs} without a valid object after "
        f"re-asks, {stats.failed_calls} failed after retries"
    )


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
