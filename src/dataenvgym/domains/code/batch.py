"""Score many small solutions in few sandboxed processes.

Starting a sandboxed interpreter costs about 0.1 s, which is more than a one-line solution's
tests take to run. Scoring a validation split one process per solution would dominate an
episode, so :func:`run_test_batch` puts a chunk of solutions into one sandboxed process (all
of :mod:`~dataenvgym.domains.code.sandbox`'s kernel layers apply to it) and runs there each
solution in a *forked child* of its own:

* the child has its own time limit (``SIGALRM`` and, behind it, a kill by the parent), the
  sandbox's rlimits (inherited) and its output sent to ``/dev/null``; whatever it does to its
  interpreter (monkeypatching builtins, exhausting memory, crashing) dies with it;
* the child reports to the parent over a pipe of its own, so it can only speak about itself;
  the parent prints one result line per solution, tagged with a per-run secret;
* after each solution, everything it started is killed and reaped before the next one is
  forked, since dying processes still count against the sandbox's process limit;
* when the whole process dies anyway (the sandbox's wall clock, a fork bomb that starves the
  parent), the solutions without a result line are retried in a new process, and the one
  that was running when it died is scored as a failure, so one hostile solution costs its
  neighbours only a retry; a solution the process could not even start is retried, not
  failed.

A solution could forge its own verdict by digging the per-run secret out of its inherited
memory, as in the one-process harness; it cannot forge another solution's.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dataenvgym.domains.code.sandbox import SandboxConfig, run_python

#: Solutions per sandboxed process: large enough to amortise its start, small enough that a
#: retry after a crash is cheap and that ``max_concurrency`` processes share the work.
DEFAULT_CHUNK = 128

# Runs inside the sandbox as ``__main__``. Reads the jobs as JSON on stdin; writes
# ``<nonce> <json>`` lines on stdout. Only the standard library, Python >= 3.9.
_RUNNER = r"""
import json, os, select, signal, sys, time
spec = json.loads(sys.stdin.read())
nonce, limit = spec["nonce"], float(spec["timeout"])
del spec["nonce"]
out = os.fdopen(os.dup(1), "w")
devnull = os.open(os.devnull, os.O_RDWR)

def child(job, wfd):
    os.setpgid(0, 0)
    os.dup2(devnull, 0); os.dup2(devnull, 1); os.dup2(devnull, 2)
    signal.setitimer(signal.ITIMER_REAL, limit)
    passed, error = 0, None
    try:
        ns = {"__name__": "__solution__"}
        exec(compile(job["solution"], "<solution>", "exec"), ns)
        for test in job["tests"]:
            try:
                exec(compile(test, "<test>", "exec"), ns)
                passed += 1
            except BaseException as exc:
                if error is None:
                    error = type(exc).__name__ + ": " + str(exc)[:200]
                if isinstance(exc, (MemoryError, RecursionError)) or "Alarm" in repr(exc):
                    break
    except BaseException as exc:
        error = "solution: " + type(exc).__name__ + ": " + str(exc)[:200]
    os.write(wfd, json.dumps({"passed": passed, "error": error}).encode()[:4000])
    os._exit(0)

def reap(patience):
    # Reap what the solutions left behind (orphans are ours when we are PID 1). A killed
    # process counts against RLIMIT_NPROC until it is reaped, and SIGKILL takes effect a
    # moment later, so keep killing and reaping until none is left or patience runs out:
    # giving up early would leave the next solution's fork to fail on the limit.
    deadline = time.monotonic() + patience
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] != 0:
                continue
        except ChildProcessError:
            return
        if time.monotonic() > deadline:
            return
        if os.getpid() == 1:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)

def on_alarm(signum, frame):
    raise TimeoutError("time limit")

signal.signal(signal.SIGALRM, on_alarm)
for index, job in enumerate(spec["jobs"]):
    rfd, wfd = os.pipe()
    pid, tries = None, 0
    while pid is None:
        try:
            pid = os.fork()
        except OSError:
            # The process limit is still held (a previous solution's processes dying, or
            # something outside): wait a little, then give up on this process and say so,
            # so that the harness retries this solution instead of failing it unrun.
            tries += 1
            if tries > 20:
                out.write(nonce + " " + json.dumps({"unstarted": index}) + "\n"); out.flush()
                os._exit(3)
            reap(0.05)
            time.sleep(0.05)
    if pid == 0:
        os.close(rfd)
        child(job, wfd)
    os.close(wfd)
    data, deadline = b"", time.monotonic() + limit + 1.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([rfd], [], [], left)[0]:
            break
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    # As PID 1 of the sandbox's PID namespace, kill(-1) reaches everything the solution
    # started, wherever it went; otherwise its process group is what we can name.
    for target in ((-1,) if os.getpid() == 1 else (-pid, pid)):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    if os.getpid() == 1:
        reap(2.0)
    try:
        result = json.loads(data.decode())
        line = {"index": index, "passed": int(result["passed"]), "error": result["error"]}
    except Exception:
        line = {"index": index, "passed": 0, "error": "no result: killed or timed out"}
    out.write(nonce + " " + json.dumps(line) + "\n"); out.flush()
"""


@dataclass(frozen=True)
class BatchJob:
    """A solution and its tests (each a statement that raises when the test fails)."""

    solution: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class BatchVerdict:
    """How many of a job's tests passed, and the first error."""

    passed: int
    total: int
    error: str | None = None

    @property
    def all_passed(self) -> bool:
        """Whether every test passed (and there was at least one)."""
        return self.total > 0 and self.passed == self.total


def _run_chunk(
    jobs: Sequence[BatchJob], config: SandboxConfig, per_job_timeout: float
) -> list[BatchVerdict]:
    verdicts: dict[int, BatchVerdict] = {}
    pending = list(range(len(jobs)))
    while pending:
        nonce = secrets.token_hex(16)
        spec = {
            "nonce": nonce,
            "timeout": per_job_timeout,
            "jobs": [{"solution": jobs[i].solution, "tests": list(jobs[i].tests)} for i in pending],
        }
        # The process's wall clock covers every job's limit; a fork bomb or a starved parent
        # is what ends it earlier.
        wall = config.timeout_s + len(pending) * (per_job_timeout + 0.2)
        cfg = config.model_copy(update={"timeout_s": wall})
        result = run_python(_RUNNER, stdin=json.dumps(spec), config=cfg)
        unstarted = False
        for line in result.stdout.splitlines():
            tag, _, body = line.partition(" ")
            if tag != nonce:
                continue
            event = json.loads(body)
            if "unstarted" in event:
                unstarted = True
                continue
            job_index = pending[int(event["index"])]
            total = len(jobs[job_index].tests)
            verdicts[job_index] = BatchVerdict(
                passed=min(int(event["passed"]), total), total=total, error=event["error"]
            )
        left = [i for i in pending if i not in verdicts]
        if unstarted and len(left) < len(pending):
            # The process could not start left[0] (the process limit was still held by an
            # earlier solution's dying processes): nothing ran it, so all of them retry in a
            # fresh process. Progress was made, so this cannot loop forever.
            pending = left
            continue
        if left:
            # The process died while running left[0] (or could not start even the first
            # solution): that solution fails, the rest retry.
            verdicts[left[0]] = BatchVerdict(
                passed=0,
                total=len(jobs[left[0]].tests),
                error=f"sandbox process ended ({result.status}) while running this solution",
            )
        pending = left[1:]
    return [verdicts[i] for i in range(len(jobs))]


def run_test_batch(
    jobs: Sequence[BatchJob],
    config: SandboxConfig | None = None,
    *,
    per_job_timeout: float = 2.0,
    chunk_size: int = DEFAULT_CHUNK,
) -> list[BatchVerdict]:
    """Run every job's tests against its solution, batched, in sandboxed processes.

    Args:
        jobs: Solutions with their tests.
        config: Sandbox limits and isolation; ``max_concurrency`` processes run at once.
        per_job_timeout: Wall-clock seconds each solution (with all its tests) may take.
        chunk_size: Jobs per sandboxed process.

    Returns:
        One verdict per job, in order.

    Raises:
        SandboxError: The sandbox itself failed.
    """
    if not jobs:
        return []
    cfg = config or SandboxConfig()
    size = max(1, min(chunk_size, -(-len(jobs) // cfg.max_concurrency)))
    chunks = [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]
    with ThreadPoolExecutor(max_workers=min(cfg.max_concurrency, len(chunks))) as pool:
        parts = list(pool.map(lambda chunk: _run_chunk(chunk, cfg, per_job_timeout), chunks))
    return [verdict for part in parts for verdict in part]
