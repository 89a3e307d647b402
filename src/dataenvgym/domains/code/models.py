"""Configuration, job and result models of the code sandbox.

Kept apart from :mod:`dataenvgym.domains.code.sandbox` so that the process-level modules can
import them without a cycle. Everything here is re-exported from ``sandbox``.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

#: How one execution ended. ``ok`` means exit status 0; ``error`` a non-zero exit status;
#: ``timeout`` the wall-clock or CPU limit; ``memory`` a ``MemoryError`` (the address-space
#: limit); ``killed`` death by a signal (segfault, abort, ...); ``output_limit`` more than
#: ``max_output_bytes`` on stdout or stderr.
ExecutionStatus = Literal["ok", "error", "timeout", "memory", "killed", "output_limit"]


def _default_concurrency() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class SandboxConfig(BaseModel):
    """Limits and isolation switches for one sandboxed execution.

    The defaults are meant for scoring generated code: strict isolation, no network, and
    limits generous enough for competitive-programming solutions.

    Attributes:
        timeout_s: Wall-clock limit per execution; the whole process tree is killed after it.
        cpu_seconds: CPU-time limit (RLIMIT_CPU) per process.
        memory_mb: Address-space limit (RLIMIT_AS) per process.
        max_output_bytes: Cap on captured stdout and on captured stderr, each. Past it the
            process is killed and the status is ``output_limit``.
        max_processes: Processes (Linux counts threads too) the submitted code may have alive
            at once, its main process included (RLIMIT_NPROC under a dedicated uid).
        max_concurrency: Executions that :func:`run_many` runs at the same time.
        network: Whether the code may use the network. ``False`` gives it an empty network
            namespace where the kernel allows one, and blocks socket creation in any case.
        max_file_mb: Largest file the code may write (RLIMIT_FSIZE).
        max_open_files: RLIMIT_NOFILE.
        niceness: Added to the scheduling niceness of the sandboxed process (0 = unchanged).
        restrict_writes: Refuse to create or modify files outside the execution's temporary
            directory: a read-only mount namespace where available, an audit hook always.
        allow_subprocess: Allow ``subprocess``/``os.system``/``exec*``. ``os.fork`` is always
            allowed; the process limits contain it.
        drop_privileges: When the harness runs as root, run each execution under its own
            unprivileged uid (needed for RLIMIT_NPROC, which the kernel does not apply to root).
        use_namespaces: Use Linux network, PID and mount namespaces where the kernel allows
            them (through a user namespace when the harness is not root).
        python_executable: Interpreter for the code; by default the harness's own, or a system
            interpreter of the same version when the harness's is unreachable for the
            sandbox uid.
        uid_base: First uid of the pool of sandbox uids (root only).
        uid_slots: Size of that pool; bounds the executions running at once across processes.
        use_bwrap: Confine each execution with bubblewrap (``bwrap``) where it is installed and
            works: fresh namespaces of every kind, a fresh ``/proc``, a minimal read-only file
            system and a size-limited tmpfs work dir, with or without root. Without it, the
            hand-made namespaces of ``use_namespaces`` are the fallback.
        bwrap_executable: Path of ``bwrap``; by default the one on ``PATH``.
        use_cgroups: Give each execution its own cgroup where one can be created (root, or a
            delegated subtree): ``memory_mb + disk_mb`` is then the total memory of all the
            run's processes and files together, ``max_processes`` its total task count, and
            the cgroup is how everything it started is killed.
        disk_mb: Size of the execution's writable work dir at the ``bwrap`` level (a tmpfs,
            so it also counts as memory); the total the code can write.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=10.0, gt=0)
    cpu_seconds: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=1024, ge=64)
    max_output_bytes: int = Field(default=1 << 20, ge=1024)
    max_processes: int = Field(default=16, ge=1)
    max_concurrency: int = Field(default_factory=_default_concurrency, ge=1)
    network: bool = False
    max_file_mb: int = Field(default=64, ge=1)
    max_open_files: int = Field(default=64, ge=16)
    niceness: int = Field(default=0, ge=0, le=19)
    restrict_writes: bool = True
    allow_subprocess: bool = False
    drop_privileges: bool = True
    use_namespaces: bool = True
    python_executable: str | None = None
    uid_base: int = Field(default=64000, ge=1000)
    uid_slots: int = Field(default=256, ge=1, le=4096)
    use_bwrap: bool = True
    bwrap_executable: str | None = None
    use_cgroups: bool = True
    disk_mb: int = Field(default=256, ge=1)


class ExecutionResult(BaseModel):
    """What one sandboxed process did.

    Attributes:
        status: How it ended; see :data:`ExecutionStatus`.
        returncode: Exit status; negative for death by a signal; ``None`` if never reaped.
        stdout: Captured standard output (UTF-8, undecodable bytes replaced), at most
            ``max_output_bytes`` bytes before decoding.
        stderr: Captured standard error, same cap.
        stdout_truncated: Whether stdout went past the cap.
        stderr_truncated: Whether stderr went past the cap.
        duration_s: Wall-clock time from launch to reaping.
        cpu_s: CPU time (user + system) of the process and the children it waited for.
    """

    status: ExecutionStatus
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the process exited with status 0 within all limits."""
        return self.status == "ok"


class TestCaseResult(BaseModel):
    """The result of one test (or one failing setup statement) of a test run.

    Attributes:
        index: Position in the test run, from 0.
        kind: ``test`` for a check, ``setup`` for a definition or import among the tests.
        passed: Whether it ran without raising (stdin tests: whether the output matched).
        source: The test's source text (stdin tests: empty).
        error: The exception, one line per ``traceback.format_exception_only``, or why the
            test did not run.
        expected: Stdin tests only: the expected output, normalised.
        actual: Stdin tests only: the program's output, normalised.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class

    index: int
    kind: Literal["test", "setup"] = "test"
    passed: bool
    source: str = ""
    error: str | None = None
    expected: str | None = None
    actual: str | None = None


class TestOutcome(BaseModel):
    """The verdict on a solution against its tests.

    Attributes:
        passed: ``True`` only if every test passed, at least one test ran, the harness
            reported completion (the per-run secret sentinel, so ``os._exit(0)`` before the
            tests cannot pass) and the process ended with status ``ok``.
        tests: Per-test results, in order; tests that never ran are listed as failed.
        execution: The process that ran the tests (stdin tests: the first failing case, or
            the last case when all passed).
        reason: Why the outcome failed, in a few words; ``None`` when it passed.
    """

    __test__: ClassVar[bool] = False

    passed: bool
    tests: list[TestCaseResult] = Field(default_factory=list)
    execution: ExecutionResult
    reason: str | None = None

    @property
    def n_passed(self) -> int:
        """Number of passed entries of kind ``test``."""
        return sum(t.passed for t in self.tests if t.kind == "test")

    @property
    def n_tests(self) -> int:
        """Number of entries of kind ``test``."""
        return sum(t.kind == "test" for t in self.tests)


class PythonJob(BaseModel):
    """A job for :func:`run_many`: run ``code`` as a script with ``stdin``."""

    kind: Literal["python"] = "python"
    code: str
    stdin: str = ""


class TestsJob(BaseModel):
    """A job for :func:`run_many`: run assert-style ``tests`` against ``solution``."""

    __test__: ClassVar[bool] = False

    kind: Literal["tests"] = "tests"
    solution: str
    tests: str | list[str]


class StdinTestsJob(BaseModel):
    """A job for :func:`run_many`: run ``solution`` once per ``(stdin, expected_stdout)``."""

    kind: Literal["stdin_tests"] = "stdin_tests"
    solution: str
    cases: list[tuple[str, str]]
    stop_on_first_failure: bool = True


#: Any job :func:`run_many` accepts.
SandboxJob = PythonJob | TestsJob | StdinTestsJob


class SandboxCapabilities(BaseModel):
    """Which containment mechanisms this machine gives the sandbox (see ``sandbox_capabilities``).

    Attributes:
        python_executable: The interpreter that runs submitted code.
        running_as_root: Whether the harness runs with euid 0.
        privilege_drop: Whether each execution runs under its own unprivileged uid.
        namespaces: Linux namespaces each execution gets (``net``, ``pid``, ``mount``,
            ``user``). ``mount`` means the whole filesystem is read-only to the code except
            its temporary directory.
        nproc_limit_enforced: Whether RLIMIT_NPROC binds the code (the kernel exempts root).
        notes: Human-readable remarks on the weaker fallbacks in use.
    """

    python_executable: str
    running_as_root: bool
    privilege_drop: bool
    namespaces: list[str]
    nproc_limit_enforced: bool
    notes: list[str] = Field(default_factory=list)
