"""Score many small solutions in few sandboxed processes, with verdicts decided outside.

Starting a sandboxed interpreter costs about 0.1 s, more than a one-line solution takes to
run on a few dozen inputs, so :func:`run_test_batch` puts a chunk of solutions into one
sandboxed process (all of :mod:`~dataenvgym.domains.code.sandbox`'s kernel layers apply to
it). That process only *computes*: it runs each solution in a forked child of its own on the
job's inputs and sends back the return values as tagged JSON
(:mod:`~dataenvgym.domains.code.values`). The expected values never enter the sandbox; this
module compares them with what came back, with exact types, so nothing the solution does
inside its interpreter (an object equal to everything, replaced builtins, frames walked up
to the runner) can make it pass.

What keeps one solution from speaking for another:

* the child closes every descriptor but its own result pipe before the solution's code is
  compiled, and its stdio goes to ``/dev/null``; the runner makes itself non-dumpable, so a
  process of the same uid cannot open its ``/proc/<pid>/fd`` or memory;
* the runner writes each result as a length-prefixed frame ``<nonce> <index> <status>
  <length>`` followed by the child's bytes, in job order, then ``<nonce> end <count>``;
* a run counts only when it is *clean*: the process exited 0 within its limits and its
  output is exactly those frames, nothing missing, nothing extra. Anything written to the
  stream by another route (a forged frame) makes a run unclean, since the runner's own frames
  still follow. An unclean run of several solutions is split in two and each half run again,
  down to a lone solution, which then fails. A hostile solution costs its neighbours a few
  reruns, never their verdicts; a solution alone in its process can only speak for itself.

A child's time limit (``SIGALRM``, and behind it a kill by the runner), memory limit and
output cap end that solution only: the runner still writes its frame (empty, with status
``cut`` or ``big``), and everything the child started is killed and reaped before the next.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dataenvgym.domains.code.sandbox import ExecutionResult, SandboxConfig, run_python
from dataenvgym.domains.code.values import MalformedValue, canonical, describe, encode

#: Solutions per sandboxed process: large enough to amortise its start, small enough that a
#: rerun after an unclean run is cheap and that ``max_concurrency`` processes share the work.
DEFAULT_CHUNK = 128
#: Largest result (bytes of tagged JSON) one solution may send back.
DEFAULT_RESULT_CAP = 64 * 1024

# Runs inside the sandbox as ``__main__``. Reads the jobs as JSON on stdin; writes frames on
# stdout. Only the standard library, Python >= 3.9.
_RUNNER = r"""
import json, os, select, signal, sys, time
spec = json.loads(sys.stdin.read())
nonce, limit, cap = spec["nonce"], float(spec["timeout"]), int(spec["cap"])
del spec["nonce"]
out = os.dup(1)
devnull = os.open(os.devnull, os.O_RDWR)
try:
    # PR_SET_DUMPABLE 0: the solutions (same uid) cannot open /proc/<us>/fd/* or our memory.
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
except Exception:
    pass
DICTS = (dict,)
try:
    import collections
    DICTS = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)
except Exception:
    pass

def encode(v, depth):
    t = type(v)
    if v is None or t is bool or t is int or t is str:
        return v
    if t is float:
        return ["f", repr(v)]
    if depth > 40:
        raise ValueError("value nested too deeply")
    if t is list:
        return ["l"] + [encode(x, depth + 1) for x in v]
    if t is tuple:
        return ["t"] + [encode(x, depth + 1) for x in v]
    if t in DICTS:
        return ["d"] + [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]
    return ["u", str(getattr(t, "__name__", "?"))[:60]]

def decode(n):
    if type(n) is list:
        tag, items = n[0], n[1:]
        if tag == "f":
            return float(items[0])
        if tag == "l":
            return [decode(x) for x in items]
        if tag == "t":
            return tuple(decode(x) for x in items)
        if tag == "d":
            return {decode(k): decode(x) for k, x in items}
    return n

def describe(exc):
    try:
        return (type(exc).__name__ + ": " + str(exc))[:200]
    except BaseException:
        return "exception"

def child(job, wfd):
    # Only the result pipe stays open: nothing else the runner holds can be written to.
    os.dup2(devnull, 0); os.dup2(devnull, 1); os.dup2(devnull, 2)
    os.closerange(3, wfd)
    os.closerange(wfd + 1, 65536)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    write, dumps = os.write, json.dumps
    args = [decode(x) for x in job["inputs"]]
    source, entry = job["solution"], job["entry"]
    del job
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        ns = {"__name__": "__solution__"}
        exec(compile(source, "<solution>", "exec"), ns)
        fn = ns[entry]
        outs = []
        for arg in args:
            try:
                outs.append(encode(fn(arg), 0))
            except BaseException as exc:
                outs.append(["e", describe(exc)])
                if isinstance(exc, (MemoryError, RecursionError, TimeoutError)):
                    break
        data = dumps(["R", outs])
    except BaseException as exc:
        data = dumps(["S", describe(exc)])
    data = data.encode()
    while data:
        data = data[write(wfd, data[: 1 << 16]):]
    os._exit(0)

def reap(patience):
    # Reap what the solutions left behind (orphans are ours when we are PID 1). A killed
    # process counts against RLIMIT_NPROC until it is reaped, and SIGKILL takes effect a
    # moment later, so keep killing and reaping until none is left or patience runs out.
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

def emit(data):
    while data:
        data = data[os.write(out, data):]

def on_alarm(signum, frame):
    raise TimeoutError("time limit")

signal.signal(signal.SIGALRM, on_alarm)
jobs = spec.pop("jobs")
for index in range(len(jobs)):
    job = jobs[index]
    jobs[index] = None
    rfd, wfd = os.pipe()
    pid, tries = None, 0
    while pid is None:
        try:
            pid = os.fork()
        except OSError:
            # The process limit is still held (a previous solution's processes dying): wait a
            # little, then give up; the harness reruns what this process did not finish.
            tries += 1
            if tries > 20:
                os._exit(3)
            reap(0.05)
            time.sleep(0.05)
    if pid == 0:
        os.close(rfd)
        child(job, wfd)
    os.close(wfd)
    data, status, deadline = b"", "cut", time.monotonic() + limit + 1.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([rfd], [], [], left)[0]:
            break
        chunk = os.read(rfd, 65536)
        if not chunk:
            status = "ok"
            break
        data += chunk
        if len(data) > cap:
            status = "big"
            break
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
    if status == "ok" and not data.isascii():
        status = "bad"
    if status != "ok":
        data = b""
    emit(("%s %d %s %d\n" % (nonce, index, status, len(data))).encode() + data + b"\n")
emit(("%s end %d\n" % (nonce, len(jobs))).encode())
"""

#: Why a solution's frame carried no result, by the runner's status word.
_FRAME_STATUS = {
    "cut": "no result: killed or timed out",
    "big": "result larger than the cap",
    "bad": "result is not ASCII JSON",
}


@dataclass(frozen=True)
class BatchJob:
    """A solution, the inputs to call it on and the values it must return.

    Attributes:
        solution: Source that defines the function ``entry``.
        inputs: One argument per check; the function is called as ``entry(input)`` on a fresh
            copy of each. Plain values only (see :mod:`~dataenvgym.domains.code.values`).
        expected: The value each call must return, compared with exact types. Kept by the
            harness; never sent into the sandbox.
        entry: Name of the function to call.
    """

    solution: str
    inputs: tuple[Any, ...]
    expected: tuple[Any, ...]
    entry: str = "f"

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.expected):
            raise ValueError(
                f"a BatchJob needs one expected value per input, got {len(self.inputs)} "
                f"inputs and {len(self.expected)} expected values"
            )


@dataclass(frozen=True)
class BatchVerdict:
    """How many of a job's checks passed, and why the first failing one failed."""

    passed: int
    total: int
    error: str | None = None

    @property
    def all_passed(self) -> bool:
        """Whether every check passed (and there was at least one)."""
        return self.total > 0 and self.passed == self.total


@dataclass(frozen=True)
class Checks:
    """Inputs and expected values in the forms the harness sends and compares; reusable.

    Build with :meth:`of`. Attributes: ``inputs``/``expected`` as given, ``encoded`` the
    inputs as tagged JSON nodes, ``keys`` the canonical strings of the expected values, ``id``
    a digest of both (for memo keys), ``text`` the runner's result when all checks pass,
    ``texts`` each expected value's JSON text where no other text can equal it.
    """

    inputs: tuple[Any, ...]
    expected: tuple[Any, ...]
    encoded: tuple[Any, ...]
    keys: tuple[str, ...]
    id: str
    text: str
    texts: tuple[str | None, ...]

    @classmethod
    def of(cls, inputs: Sequence[Any], expected: Sequence[Any]) -> Checks:
        """Encode ``inputs`` and ``expected`` (plain values, one expected per input)."""
        if len(inputs) != len(expected):
            raise ValueError(
                f"checks need one expected value per input, got {len(inputs)} inputs and "
                f"{len(expected)} expected values"
            )
        encoded = tuple(encode(v) for v in inputs)
        keys = tuple(canonical(encode(v)) for v in expected)
        digest = hashlib.sha1(json.dumps([encoded, keys]).encode()).hexdigest()
        # What the runner sends back when every call returns the expected value, spelled the
        # same way: equal text needs no parsing (a shortcut, not a different rule).
        nodes = [encode(v) for v in expected]
        text = json.dumps(["R", nodes])
        # Per check, the JSON text that alone equals it, where spelling cannot vary (no dict
        # order, no float spelling): such checks are compared without parsing the value.
        texts = tuple(None if _spelling_varies(node) else json.dumps(node) for node in nodes)
        return cls(tuple(inputs), tuple(expected), encoded, keys, digest, text, texts)


def _spelling_varies(node: Any) -> bool:
    if isinstance(node, list):
        return node[0] in ("d", "f") or any(_spelling_varies(item) for item in node[1:])
    return False


@dataclass(frozen=True)
class PreparedJob:
    """A solution with already encoded :class:`Checks` (what :class:`BatchJob` becomes)."""

    solution: str
    checks: Checks
    entry: str = "f"


def _prepare(job: BatchJob | PreparedJob) -> PreparedJob:
    if isinstance(job, PreparedJob):
        return job
    return PreparedJob(job.solution, Checks.of(job.inputs, job.expected), job.entry)


def judge(prepared: PreparedJob, status: str, data: str) -> BatchVerdict:
    """The verdict on one solution from the bytes its child sent back (untrusted)."""
    checks = prepared.checks
    total = len(checks.keys)
    if status != "ok":
        return BatchVerdict(0, total, _FRAME_STATUS.get(status, status))
    if data == checks.text:
        return BatchVerdict(total, total, None)
    try:
        kind, body = json.loads(data)
    except Exception:
        return BatchVerdict(0, total, "malformed result from the solution's process")
    if kind == "S" and isinstance(body, str):
        return BatchVerdict(0, total, "solution: " + body[:200])
    if kind != "R" or not isinstance(body, list) or len(body) > total:
        return BatchVerdict(0, total, "malformed result from the solution's process")
    passed, error = 0, None
    for index, expected in enumerate(checks.keys):
        if index >= len(body):
            error = error or f"stopped before check {index + 1}"
            break
        plain = checks.texts[index]
        try:
            if plain is not None:
                same = json.dumps(body[index]) == plain
            else:
                same = canonical(body[index]) == expected
        except (MalformedValue, RecursionError, ValueError, TypeError):
            return BatchVerdict(0, total, "malformed result from the solution's process")
        if same:
            passed += 1
        elif error is None:
            call = f"{prepared.entry}({describe(checks.encoded[index], 60)})"
            got_text = describe(body[index])
            verb = "" if got_text.startswith("raised") else "gave "
            error = f"{call} {verb}{got_text}, expected {describe(encode(checks.expected[index]))}"
    return BatchVerdict(passed, total, error)


def parse_frames(result: ExecutionResult, nonce: str, count: int) -> list[tuple[str, str]] | None:
    """The ``count`` frames of a clean run as ``(status, data)``, or ``None`` if unclean."""
    if result.status != "ok" or result.stdout_truncated:
        return None
    text, pos, frames = result.stdout, 0, []
    for index in range(count):
        end = text.find("\n", pos)
        header = text[pos:end].split(" ") if end >= 0 else []
        if (
            len(header) != 4
            or header[0] != nonce
            or header[1] != str(index)
            or not header[3].isdigit()
        ):
            return None
        size = int(header[3])
        data = text[end + 1 : end + 1 + size]
        if len(data) != size or text[end + 1 + size : end + 2 + size] != "\n":
            return None
        frames.append((header[2], data))
        pos = end + 2 + size
    return frames if text[pos:] == f"{nonce} end {count}\n" else None


def _run_group(
    group: list[PreparedJob], config: SandboxConfig, per_job_timeout: float, cap: int
) -> list[BatchVerdict]:
    nonce = secrets.token_hex(16)
    spec = {
        "nonce": nonce,
        "timeout": per_job_timeout,
        "cap": cap,
        "jobs": [
            {"solution": p.solution, "entry": p.entry, "inputs": p.checks.encoded} for p in group
        ],
    }
    # The process's wall clock covers every job's limit; a fork bomb or a starved runner is
    # what ends it earlier. Its output cap covers every job's result cap.
    cfg = config.model_copy(
        update={
            "timeout_s": config.timeout_s + len(group) * (per_job_timeout + 1.2),
            "max_output_bytes": max(config.max_output_bytes, len(group) * (cap + 128) + 4096),
        }
    )
    result = run_python(_RUNNER, stdin=json.dumps(spec), config=cfg)
    frames = parse_frames(result, nonce, len(group))
    if frames is not None:
        return [judge(p, status, data) for p, (status, data) in zip(group, frames, strict=True)]
    if len(group) == 1:
        total = len(group[0].checks.keys)
        return [BatchVerdict(0, total, f"sandbox process ended ({result.status}) unclean")]
    # Someone in the group broke the run (or wrote where only the runner writes): rerun each
    # half on its own, so that only the culprit, alone at last, fails.
    half = len(group) // 2
    return _run_group(group[:half], config, per_job_timeout, cap) + _run_group(
        group[half:], config, per_job_timeout, cap
    )


def run_test_batch(
    jobs: Sequence[BatchJob | PreparedJob],
    config: SandboxConfig | None = None,
    *,
    per_job_timeout: float = 2.0,
    chunk_size: int = DEFAULT_CHUNK,
    result_cap: int = DEFAULT_RESULT_CAP,
) -> list[BatchVerdict]:
    """Run every job's solution on its inputs, batched, and judge the results outside.

    Args:
        jobs: Solutions with their inputs and expected values (as :class:`BatchJob`, or as
            :class:`PreparedJob` to reuse encoded :class:`Checks`).
        config: Sandbox limits and isolation; ``max_concurrency`` processes run at once.
        per_job_timeout: Wall-clock seconds each solution (all its calls together) may take.
        chunk_size: Jobs per sandboxed process.
        result_cap: Largest result, in bytes of tagged JSON, one solution may send back.

    Returns:
        One verdict per job, in order. What a solution does or sends back only ever affects
        its own verdict.

    Raises:
        SandboxError: The sandbox itself failed.
        TypeError: An input or expected value is not a plain value (our bug, not the
            solution's).
    """
    if not jobs:
        return []
    cfg = config or SandboxConfig()
    prepared = [_prepare(job) for job in jobs]
    size = max(1, min(chunk_size, -(-len(jobs) // cfg.max_concurrency)))
    chunks = [prepared[i : i + size] for i in range(0, len(prepared), size)]
    with ThreadPoolExecutor(max_workers=min(cfg.max_concurrency, len(chunks))) as pool:
        parts = list(
            pool.map(lambda chunk: _run_group(chunk, cfg, per_job_timeout, result_cap), chunks)
        )
    return [verdict for part in parts for verdict in part]
