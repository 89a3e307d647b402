"""Run untrusted Python (a student's solution plus hidden tests) and report pass/fail.

Each execution gets its own interpreter process, confined at the strongest level this
machine allows (see :func:`isolation_report`, ``dataenvgym doctor`` and docs/sandbox.md):

* ``bwrap`` (bubblewrap, with or without root): new user, PID, network, IPC, UTS and cgroup
  namespaces, a fresh ``/proc``, a minimal read-only file system (no home, no project, no
  run folders, no host unix sockets) and a size-limited tmpfs as the working directory;
* ``namespaces`` (fallback): network and PID namespaces and a read-only view of the host
  file system except a temporary working directory;
* ``uid`` / ``rlimits``: a dedicated uid (root only), rlimits and an audit hook.

At every level: a cgroup per run where one can be created (total memory and task caps, and
the kill that ends the run), a dedicated unprivileged uid per run when the harness is root
(no uid is handed out while a task of an earlier run lives on it), a wall-clock timeout,
rlimits (CPU seconds, address space, file size, open files, processes, no core), an
environment built from an allowlist (``PATH``, ``LANG``, ``PYTHONHASHSEED=0``, ``HOME``, ...)
so secrets of the harness never reach the code, stdout/stderr read into capped buffers,
``python -S -s -B``, and inside the interpreter an audit hook that refuses sockets, writes
outside the working directory, reads of other processes' ``/proc/<pid>/environ`` and
starting programs (a fallback only: native code can bypass it, the kernel layers cannot be).

Known limits: without a cgroup, memory is capped per process, not per run; below the
``bwrap`` level the host's ``/proc`` and host unix sockets are reachable and disk use is
capped per file only; a solution that inspects the interpreter's memory could forge the
per-run success sentinel, and one that returns objects whose ``==`` is always true defeats
``assert f(x) == y`` (that is for test design to catch).

Example:
    >>> outcome = run_tests("def add(a, b):\\n    return a + b\\n", ["assert add(1, 2) == 3"])
    >>> outcome.passed
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, overload

from pydantic import BaseModel, Field

from dataenvgym.domains.code._isolation import SandboxError
from dataenvgym.domains.code._process import RawRun, execute, isolation_for
from dataenvgym.domains.code.models import (
    ExecutionResult,
    ExecutionStatus,
    PythonJob,
    SandboxCapabilities,
    SandboxConfig,
    SandboxJob,
    StdinTestsJob,
    TestCaseResult,
    TestOutcome,
    TestsJob,
)

__all__ = [
    "ExecutionResult",
    "ExecutionStatus",
    "IsolationReport",
    "PythonJob",
    "SandboxCapabilities",
    "SandboxConfig",
    "SandboxError",
    "SandboxJob",
    "StdinTestsJob",
    "TestCaseResult",
    "TestOutcome",
    "TestsJob",
    "isolation_report",
    "normalize_output",
    "run_job",
    "run_many",
    "run_python",
    "run_stdin_tests",
    "run_tests",
    "sandbox_capabilities",
]

_MAX_SHOWN_CHARS = 2000


def _config(config: SandboxConfig | None) -> SandboxConfig:
    return config if config is not None else SandboxConfig()


def sandbox_capabilities(config: SandboxConfig | None = None) -> SandboxCapabilities:
    """Report which containment mechanisms work on this machine (probing them on first use).

    Args:
        config: Switches that affect the probe (interpreter, privilege drop, namespaces).

    Returns:
        The mechanisms in use and notes on every weaker fallback.
    """
    iso = isolation_for(_config(config))
    return SandboxCapabilities(
        python_executable=iso.python,
        running_as_root=iso.running_as_root,
        privilege_drop=iso.uid_drop,
        namespaces=iso.namespaces,
        nproc_limit_enforced=iso.nproc_enforced,
        notes=list(iso.notes),
    )


class IsolationReport(BaseModel):
    """Which isolation is in force for the code sandbox on this machine, layer by layer.

    Attributes:
        level: ``bwrap`` (bubblewrap: fresh namespaces of every kind, fresh ``/proc``,
            minimal read-only file system, size-capped tmpfs work dir), ``namespaces``
            (hand-made network/PID/mount namespaces over the host file system), ``uid`` (a
            dedicated uid per run, no namespaces) or ``rlimits`` (rlimits and the in-process
            audit hook only).
        running_as_root: Whether the harness runs with euid 0.
        uid_per_run: Whether each run gets its own unprivileged uid.
        namespaces: Linux namespaces each run gets.
        cgroup: Where per-run cgroups are made (``None``: no cgroup).
        filesystem: What the code sees of the file system and where it may write.
        proc: What ``/proc`` shows the code.
        network: How the network (and host unix sockets) is cut off.
        memory_cap: What bounds memory.
        process_cap: What bounds the number of processes.
        disk_cap: What bounds what the code can write.
        cleanup: How everything a run started is killed when it ends.
        python_executable: Interpreter that runs the code.
        notes: Every weaker fallback in use, in words.
    """

    level: Literal["bwrap", "namespaces", "uid", "rlimits"]
    running_as_root: bool
    uid_per_run: bool
    namespaces: list[str]
    cgroup: str | None
    filesystem: str
    proc: str
    network: str
    memory_cap: str
    process_cap: str
    disk_cap: str
    cleanup: str
    python_executable: str
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """One line: the level and the two caps a cgroup decides."""
        cgroup = "cgroup" if self.cgroup else "no cgroup"
        who = "root" if self.running_as_root else "not root"
        uid = ", uid per run" if self.uid_per_run else ""
        return f"{self.level} ({who}{uid}, {cgroup}): memory {self.memory_cap}"

    def lines(self) -> list[str]:
        """``name: value`` lines for a terminal."""
        rows = [
            ("level", self.level),
            ("running as root", str(self.running_as_root)),
            ("uid per run", str(self.uid_per_run)),
            ("namespaces", ", ".join(self.namespaces) or "none"),
            ("cgroup", self.cgroup or "none"),
            ("file system", self.filesystem),
            ("/proc", self.proc),
            ("network", self.network),
            ("memory", self.memory_cap),
            ("processes", self.process_cap),
            ("disk", self.disk_cap),
            ("cleanup", self.cleanup),
            ("interpreter", self.python_executable),
        ]
        return [f"{k}: {v}" for k, v in rows] + [f"note: {n}" for n in self.notes]


def isolation_report(config: SandboxConfig | None = None) -> IsolationReport:
    """Say which isolation the sandbox gives on this machine (probing it on first use).

    Args:
        config: Switches that affect the choice (``use_bwrap``, ``use_cgroups``, ...).

    Returns:
        The level in force and, per layer, what is enforced.
    """
    cfg = _config(config)
    iso = isolation_for(cfg)
    bwrap = iso.bwrap is not None
    cg = iso.cgroup.describe() if iso.cgroup is not None else None
    ns = iso.namespaces
    if bwrap:
        filesystem = (
            "minimal read-only view (/usr, the interpreter's prefix, a few /etc files); "
            "writable: only the run's tmpfs work dir; no home, project or run folders"
        )
        proc = "fresh, only the run's own processes"
        network = "none: empty network namespace; host unix sockets unreachable"
        disk = f"tmpfs work dir of disk_mb ({cfg.disk_mb} MB) in total"
    else:
        filesystem = (
            "host file system, read-only except the run's work dir"
            if "mount" in ns
            else "host file system; writes outside the work dir refused by "
            + ("file permissions and " if iso.uid_drop else "")
            + "the audit hook"
        )
        proc = "the host's (other processes visible" + (
            "; other uids' memory and environment refused)" if iso.uid_drop else ")"
        )
        network = (
            "empty network namespace (host unix sockets still reachable by path)"
            if "net" in ns
            else "audit hook only (native code can bypass it)"
        )
        disk = "per file (RLIMIT_FSIZE), not in total"
    if cg is not None:
        memory = "total per run (cgroup), plus RLIMIT_AS per process"
        processes = "total per run (cgroup pids.max)"
    else:
        memory = "per process only (RLIMIT_AS); several processes or memfd pages exceed it"
        if bwrap:
            processes = "per run (RLIMIT_NPROC counted in the run's own user namespace)"
        elif iso.uid_drop:
            processes = "per run (RLIMIT_NPROC of the run's own uid)"
        elif iso.running_as_root:
            processes = "none (RLIMIT_NPROC does not bind root)"
        else:
            processes = "RLIMIT_NPROC over all processes of this user"
    cleanup = []
    if cg is not None:
        cleanup.append("the run's cgroup is killed and emptied")
    if bwrap or iso.pidns:
        cleanup.append("its PID namespace dies with its init")
    if iso.uid_drop:
        cleanup.append("its uid is checked and cleared before reuse")
    if not cleanup:
        cleanup.append("process group only (a process that calls setsid() escapes)")
    return IsolationReport(
        level=iso.level,
        running_as_root=iso.running_as_root,
        uid_per_run=iso.uid_drop,
        namespaces=ns,
        cgroup=cg,
        filesystem=filesystem,
        proc=proc,
        network=network,
        memory_cap=memory,
        process_cap=processes,
        disk_cap=disk,
        cleanup="; ".join(cleanup),
        python_executable=iso.python,
        notes=list(iso.notes),
    )


def run_python(
    code: str, *, stdin: str = "", config: SandboxConfig | None = None
) -> ExecutionResult:
    """Run ``code`` as a ``__main__`` script in the sandbox.

    Args:
        code: Python source.
        stdin: Text fed to the program's standard input (then closed).
        config: Limits and isolation switches; defaults to ``SandboxConfig()``.

    Returns:
        How the process ended, with its capped output.

    Raises:
        SandboxError: The sandbox itself failed (never because of what ``code`` does).
    """
    return execute({"mode": "script", "code": code}, stdin=stdin, config=_config(config)).result


def run_tests(
    solution: str,
    tests: str | Sequence[str],
    *,
    config: SandboxConfig | None = None,
) -> TestOutcome:
    """Run assert-style tests against a solution in one sandboxed process.

    The solution runs first (with ``__name__ == "__solution__"``, so a ``__main__`` block in
    it does not run), then the tests in the same namespace. A list gives one test per item;
    a string is split into its top-level statements, each assertion (or other check) being a
    test and each definition, import or assignment a setup step. Failing tests do not stop
    the later ones. The run passes only if the harness inside the process reports, with a
    per-run secret, that it got through all tests, so exiting early never passes.

    Args:
        solution: Source defining what the tests call.
        tests: Test source, or one source per test.
        config: Limits and isolation switches; defaults to ``SandboxConfig()``.

    Returns:
        The verdict, per-test results and the execution record. Assertion messages and
        tracebacks appear in ``tests[i].error`` and ``execution.stderr``.

    Raises:
        SandboxError: The sandbox itself failed.
    """
    payload: str | list[str] = tests if isinstance(tests, str) else list(tests)
    raw = execute(
        {"mode": "tests", "solution": solution, "tests": payload}, stdin="", config=_config(config)
    )
    return _test_outcome(raw)


def _test_outcome(raw: RawRun) -> TestOutcome:
    plan: list[dict[str, str]] = []
    results: dict[int, dict[str, object]] = {}
    solution_error: str | None = None
    done = False
    for event in raw.events:
        kind = event.get("event")
        if kind == "plan" and isinstance(event.get("units"), list):
            plan = event["units"]
        elif kind == "result" and isinstance(event.get("index"), int):
            results[event["index"]] = event
        elif kind == "solution_error":
            solution_error = str(event.get("error"))
        elif kind == "done":
            done = True
    execution = raw.result
    if execution.status != "ok":
        not_run = f"not run: execution ended with status {execution.status}"
    else:
        not_run = "not run: the process exited before reaching it"
    if solution_error is not None:
        not_run = f"not run: the solution raised {solution_error}"
    tests = []
    for index, unit in enumerate(plan):
        got = results.get(index)
        error = got.get("error") if got is not None else not_run
        tests.append(
            TestCaseResult(
                index=index,
                kind="setup" if unit.get("kind") == "setup" else "test",
                passed=bool(got is not None and got.get("passed") is True),
                source=str(unit.get("source", "")),
                error=None if error is None else str(error),
            )
        )
    if solution_error is not None:
        reason: str | None = f"solution raised {solution_error}"
    elif execution.status not in ("ok", "error"):
        reason = f"execution {execution.status}"
    elif not done:
        reason = "no success sentinel: the process exited before finishing the tests"
    elif not any(t.kind == "test" for t in tests):
        reason = "no tests"
    elif not all(t.passed for t in tests):
        reason = f"{sum(not t.passed for t in tests)} of {len(tests)} test units failed"
    elif execution.status != "ok":
        reason = f"exit status {execution.returncode}"
    else:
        reason = None
    return TestOutcome(passed=reason is None, tests=tests, execution=execution, reason=reason)


def normalize_output(text: str) -> str:
    """Whitespace-normalise program output for comparison.

    Line endings are unified, runs of blanks inside a line collapse to one space, and blank
    lines at the start and end are dropped (blank lines in the middle stay).

    Args:
        text: Raw output.

    Returns:
        The normalised text.
    """
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN_CHARS else text[:_MAX_SHOWN_CHARS] + "..."


def run_stdin_tests(
    solution: str,
    cases: Sequence[tuple[str, str]],
    *,
    config: SandboxConfig | None = None,
    stop_on_first_failure: bool = True,
) -> TestOutcome:
    """Run a stdin/stdout program once per case and compare normalised outputs.

    Each case is its own sandboxed process (LiveCodeBench-style problems read all of stdin).
    A case passes when the program exits with status ``ok`` and its stdout equals the
    expected output after :func:`normalize_output`.

    Args:
        solution: The program's source.
        cases: ``(stdin, expected_stdout)`` pairs.
        config: Limits and isolation switches, applied per case.
        stop_on_first_failure: Skip the remaining cases after a failure (they are listed as
            failed and not run).

    Returns:
        The verdict; ``execution`` is the first failing case's (or the last case's).

    Raises:
        SandboxError: The sandbox itself failed.
    """
    cfg = _config(config)
    results: list[TestCaseResult] = []
    failing: ExecutionResult | None = None
    last: ExecutionResult | None = None
    for index, (stdin, expected) in enumerate(cases):
        if failing is not None and stop_on_first_failure:
            results.append(
                TestCaseResult(index=index, passed=False, error="not run: an earlier case failed")
            )
            continue
        last = run_python(solution, stdin=stdin, config=cfg)
        want, got = normalize_output(expected), normalize_output(last.stdout)
        error = None
        if last.status != "ok":
            tail = last.stderr.strip().splitlines()[-1:] or [""]
            error = f"execution {last.status} (returncode {last.returncode}): {tail[0]}"
        elif got != want:
            error = "wrong output"
        results.append(
            TestCaseResult(
                index=index,
                passed=error is None,
                error=error,
                expected=_clip(want),
                actual=_clip(got),
            )
        )
        if error is not None and failing is None:
            failing = last
    execution = failing or last or ExecutionResult(status="error", returncode=None)
    if not results:
        reason: str | None = "no tests"
    elif failing is not None:
        reason = f"{sum(not r.passed for r in results)} of {len(results)} cases failed"
    else:
        reason = None
    return TestOutcome(passed=reason is None, tests=results, execution=execution, reason=reason)


@overload
def run_job(job: PythonJob, config: SandboxConfig | None = None) -> ExecutionResult: ...
@overload
def run_job(job: TestsJob | StdinTestsJob, config: SandboxConfig | None = None) -> TestOutcome: ...
def run_job(job: SandboxJob, config: SandboxConfig | None = None) -> ExecutionResult | TestOutcome:
    """Run one job model (see :func:`run_many`)."""
    if isinstance(job, PythonJob):
        return run_python(job.code, stdin=job.stdin, config=config)
    if isinstance(job, TestsJob):
        return run_tests(job.solution, job.tests, config=config)
    return run_stdin_tests(
        job.solution, job.cases, config=config, stop_on_first_failure=job.stop_on_first_failure
    )


@overload
def run_many(
    jobs: Sequence[PythonJob], config: SandboxConfig | None = None
) -> list[ExecutionResult]: ...
@overload
def run_many(
    jobs: Sequence[TestsJob | StdinTestsJob], config: SandboxConfig | None = None
) -> list[TestOutcome]: ...
@overload
def run_many(
    jobs: Sequence[SandboxJob], config: SandboxConfig | None = None
) -> list[ExecutionResult | TestOutcome]: ...
def run_many(
    jobs: Sequence[SandboxJob], config: SandboxConfig | None = None
) -> list[ExecutionResult] | list[TestOutcome] | list[ExecutionResult | TestOutcome]:
    """Run jobs with at most ``config.max_concurrency`` executions at once.

    Threads only wait on their subprocess (the pipes and ``select`` release the GIL), so a
    thread pool bounds the number of live sandboxes without competing with them for CPU.

    Args:
        jobs: :class:`PythonJob` (gives an :class:`ExecutionResult`), :class:`TestsJob` or
            :class:`StdinTestsJob` (give a :class:`TestOutcome`).
        config: Limits and isolation switches for every job.

    Returns:
        One result per job, in the order of ``jobs``.

    Raises:
        SandboxError: The sandbox itself failed for some job.
    """
    cfg = _config(config)
    if not jobs:
        return []
    # Probe before the threads start, so they do not all probe at once.
    isolation_for(cfg)
    with ThreadPoolExecutor(
        max_workers=min(cfg.max_concurrency, len(jobs)), thread_name_prefix="sandbox"
    ) as pool:
        return list(pool.map(lambda job: run_job(job, cfg), jobs))
