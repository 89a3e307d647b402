"""Launch one sandboxed interpreter, feed it, read it with caps, kill it, classify the end."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dataenvgym.domains.code._bwrap import INNER_TMP, bwrap_argv
from dataenvgym.domains.code._cgroup import RunCgroup
from dataenvgym.domains.code._isolation import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    PYTHON_FLAGS,
    SandboxError,
    base_env,
    clamp_limits,
    make_preexec,
)
from dataenvgym.domains.code._probe import Isolation, resolve_isolation
from dataenvgym.domains.code._uids import UID_POOL, count_user_tasks, reap_uid, wait_uid_empty
from dataenvgym.domains.code.models import ExecutionResult, ExecutionStatus, SandboxConfig

_CHUNK = 1 << 16
_REPORT_CAP = 16 << 20  # the report channel carries test sources and errors, not user output
_DRAIN_AFTER_EXIT_S = 0.5


@cache
def _bootstrap_source() -> str:
    return (Path(__file__).with_name("_bootstrap.py")).read_text(encoding="utf-8")


def isolation_for(config: SandboxConfig) -> Isolation:
    """The probed containment for ``config``'s switches (cached per process)."""
    return resolve_isolation(
        config.python_executable,
        config.drop_privileges,
        config.use_namespaces,
        config.uid_base,
        config.use_bwrap,
        config.bwrap_executable,
        config.use_cgroups,
    )


@dataclass
class RawRun:
    """An :class:`ExecutionResult` plus the trusted events the bootstrap reported."""

    result: ExecutionResult
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Stream:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    overflow: bool = False

    def feed(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.overflow = True
        self.data += chunk[: max(room, 0)]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _ask_outer_to_stop(pid: int, grace_s: float = 0.5) -> None:
    """SIGTERM the bootstrap's outer process, which then kills and reaps PID 1 of the PID
    namespace (and the kernel everything else in it); give it ``grace_s`` to finish."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.002)


def _kill_children(parent: int) -> bool:
    """SIGKILL the direct children of ``parent`` (bwrap's monitor: its child is the PID
    namespace's init, whose death takes the whole namespace). Each is pinned by a pidfd
    while ``parent``, which has not reaped it, lives, so its pid cannot be someone else's.

    Returns:
        Whether any child was found.
    """
    found = False
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _ppid(entry) != parent:
            continue
        try:
            fd = os.pidfd_open(int(entry))
        except OSError:
            continue
        try:
            if _ppid(entry) == parent:  # still the same process, now pinned
                signal.pidfd_send_signal(fd, signal.SIGKILL)
                found = True
        except OSError:
            pass
        finally:
            os.close(fd)
    return found


def _ppid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold anything, so parse after the last ")".
    fields = stat[stat.rfind(b")") + 2 :].split(b" ", 2)
    return int(fields[1]) if len(fields) > 1 else None


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited, without reaping it (so its pid, and thereby the process
    group id we kill by, cannot be reused in between)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _limits(config: SandboxConfig, iso: Isolation, uid: int | None) -> list[tuple[int, int, int]]:
    mb = 1 << 20
    nproc = config.max_processes
    if iso.bwrap is not None:
        nproc += 2  # bwrap's monitor (outside) and its init (PID 1 inside)
    elif iso.pidns:
        nproc += 1  # the bootstrap's outer process, which only waits for the code
    limits = []
    if uid is None and not iso.running_as_root:
        if iso.bwrap is None:
            # Without a uid of its own the count includes every process of this user.
            nproc += count_user_tasks(os.getuid())
            limits.append((resource.RLIMIT_NPROC, nproc, nproc))
        # At the bwrap level the bootstrap sets the limit inside the run's own user
        # namespace (see _with_prelude), where only this run counts; a limit out here would
        # count other runs of this user too, and let a neighbour's fork bomb stop this one.
    else:
        limits.append((resource.RLIMIT_NPROC, nproc, nproc))
    return [
        *limits,
        (resource.RLIMIT_CPU, config.cpu_seconds, config.cpu_seconds + 1),
        (resource.RLIMIT_AS, config.memory_mb * mb, config.memory_mb * mb),
        (resource.RLIMIT_FSIZE, config.max_file_mb * mb, config.max_file_mb * mb),
        (resource.RLIMIT_NOFILE, config.max_open_files, config.max_open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]


def _run_cgroup(config: SandboxConfig, iso: Isolation) -> RunCgroup | None:
    if iso.cgroup is None:
        return None
    try:
        # Files in the tmpfs work dir are memory too, and charged to the run's cgroup.
        return RunCgroup(
            iso.cgroup,
            memory_bytes=(config.memory_mb + config.disk_mb) << 20,
            max_tasks=config.max_processes + 2,
        )
    except OSError as exc:
        raise SandboxError(f"could not create the run's cgroup: {exc}") from exc


def execute(job: dict[str, Any], *, stdin: str, config: SandboxConfig) -> RawRun:
    """Run the bootstrap with ``job`` (mode and sources) under ``config``.

    Whatever the run started is dead when this returns: the run's cgroup is killed and
    emptied, the PID namespace dies with its init, and the run's uid (when the harness is
    root) is checked for leftovers, which are killed, before it is released.

    Raises:
        SandboxError: The sandbox could not launch the interpreter.
    """
    iso = isolation_for(config)
    with contextlib.ExitStack() as stack:
        uid: int | None = None
        if iso.uid_drop:
            uid = stack.enter_context(
                UID_POOL.acquire(config.uid_base, config.uid_slots, iso.python)
            )
        cgroup = _run_cgroup(config, iso)
        if cgroup is not None:
            stack.callback(cgroup.remove)
        if iso.bwrap is not None:
            # The work dir exists only inside the sandbox (a tmpfs); nothing on the host.
            workdir = f"{INNER_TMP}/dataenvgym-sbx-{secrets.token_hex(6)}"
        else:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="dataenvgym-sbx-", ignore_cleanup_errors=True)
            )
            if uid is not None:
                os.chown(workdir, uid, uid)
        run = _launch(job, stdin=stdin, config=config, iso=iso, uid=uid, tmp=workdir, cgroup=cgroup)
        if cgroup is not None:
            if cgroup.oom_killed() and run.result.status in ("killed", "error"):
                run.result = run.result.model_copy(update={"status": "memory"})
            emptied = cgroup.kill()
        else:
            emptied = False
        # An emptied cgroup held every task of the run (the uid cannot move a task out of it).
        if uid is not None and not emptied and count_user_tasks(uid, zombies=False):
            # Survivors (no PID namespace, or a namespace init not yet gone): kill(-1) as the
            # uid reaches them wherever they went; killed tasks count against RLIMIT_NPROC
            # until reaped, so wait for them too.
            reap_uid(iso.python, uid)
            wait_uid_empty(uid)
        return run
    raise AssertionError("unreachable")  # pragma: no cover


def _with_prelude(source: str, nproc: int) -> str:
    """A ``-c`` program that does the ``bwrap`` level's first steps, then runs ``source``.

    * RLIMIT_NPROC lowered to ``nproc``: inside bwrap's fresh user namespace the kernel counts
      this run's processes on their own (per user namespace and uid), so a limit set there
      bounds exactly this run, even when the harness is not root and shares its uid with
      other runs.
    * ``PWD`` removed: bwrap sets it, and the code's environment is an allowlist.

    ``source`` is compiled on its own (its ``from __future__`` imports stay first) and runs
    in ``__main__``'s namespace under the file name ``<string>``, as with ``-c source``.
    """
    return (
        "import os as _o, resource as _r\n"
        f"_r.setrlimit(_r.RLIMIT_NPROC, ({nproc}, {nproc}))\n"
        "_o.environ.pop('PWD', None)\n"
        "del _o, _r\n"
        f"exec(compile({source!r}, '<string>', 'exec', dont_inherit=True))\n"
    )


def _launch(
    job: dict[str, Any],
    *,
    stdin: str,
    config: SandboxConfig,
    iso: Isolation,
    uid: int | None,
    tmp: str,
    cgroup: RunCgroup | None = None,
) -> RawRun:
    ns_flags = 0 if iso.bwrap is not None else iso.ns_flags
    if config.network:
        ns_flags &= ~CLONE_NEWNET
    if not config.restrict_writes:
        ns_flags &= ~CLONE_NEWNS
    if not ns_flags & ~CLONE_NEWUSER:
        ns_flags = 0  # a user namespace alone buys nothing
    nonce = secrets.token_hex(16)
    spec = {
        **job,
        "nonce": nonce,
        "tmpdir": tmp,
        # bwrap runs the bootstrap as PID 1 (--as-pid-1), which then forks the code.
        "pidns": bool(ns_flags & CLONE_NEWPID) or iso.bwrap is not None,
        "network": config.network,
        "restrict_writes": config.restrict_writes,
        "subprocs": config.allow_subprocess,
    }
    preexec = make_preexec(
        ns_flags=ns_flags,
        uid=uid,
        limits=clamp_limits(_limits(config, iso, uid)),
        niceness=config.niceness,
        writable_dir=tmp if iso.bwrap is None else None,
        cgroup_procs=cgroup.procs_files if cgroup is not None else (),
    )
    ctl_r, ctl_w = os.pipe()
    rep_r, rep_w = os.pipe()
    if iso.bwrap is not None:
        prefix = bwrap_argv(
            iso.bwrap,
            python_roots=iso.python_roots,
            workdir=tmp,
            disk_mb=config.disk_mb,
            network=config.network,
        )
        source = _with_prelude(_bootstrap_source(), config.max_processes + 1)
        argv = [*prefix, "--", iso.python, *PYTHON_FLAGS, "-c", source, str(ctl_r), str(rep_w)]
        cwd = "/"
    else:
        argv = [iso.python, *PYTHON_FLAGS, "-c", _bootstrap_source(), str(ctl_r), str(rep_w)]
        cwd = tmp
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=base_env(tmp),
            pass_fds=(ctl_r, rep_w),
            start_new_session=True,  # own process group: one killpg reaches the whole tree
            preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        for fd in (ctl_r, ctl_w, rep_r, rep_w):
            os.close(fd)
        raise SandboxError(f"could not start the sandboxed interpreter: {exc}") from exc
    os.close(ctl_r)
    os.close(rep_w)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    owned = {ctl_w, rep_r}  # closed exactly once: a stale double close could hit a reused fd
    try:
        return _supervise(
            proc,
            ctl_w=ctl_w,
            rep_r=rep_r,
            owned=owned,
            ctl_data=json.dumps(spec).encode(),
            stdin_data=stdin.encode("utf-8", errors="surrogateescape"),
            nonce=nonce,
            config=config,
            start=start,
            pidns=bool(ns_flags & CLONE_NEWPID),
            signal_status=iso.bwrap is not None,
            cgroup=cgroup,
        )
    finally:
        _kill_group(proc.pid)
        for fd in owned:
            os.close(fd)
        for closable in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                closable.close()


def _supervise(
    proc: subprocess.Popen[bytes],
    *,
    ctl_w: int,
    rep_r: int,
    owned: set[int],
    ctl_data: bytes,
    stdin_data: bytes,
    nonce: str,
    config: SandboxConfig,
    start: float,
    pidns: bool,
    signal_status: bool = False,
    cgroup: RunCgroup | None = None,
) -> RawRun:
    """Pump pipes until the process exits (or a limit hits), then reap and classify it.

    Everything is read in bounded chunks into capped buffers, so a program that prints
    gigabytes costs the harness at most ``max_output_bytes`` per stream.
    """
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    writers = {ctl_w: memoryview(ctl_data), proc.stdin.fileno(): memoryview(stdin_data)}
    readers = {
        proc.stdout.fileno(): _Stream(config.max_output_bytes),
        proc.stderr.fileno(): _Stream(config.max_output_bytes),
        rep_r: _Stream(_REPORT_CAP),
    }
    sel = selectors.DefaultSelector()
    for fd in writers:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_WRITE)
    for fd in readers:
        sel.register(fd, selectors.EVENT_READ)

    deadline = start + config.timeout_s
    timed_out = overflow = exited = False
    drain_until = float("inf")
    while sel.get_map():
        now = time.monotonic()
        if now >= deadline and not exited:
            timed_out = True
            break
        if now >= drain_until:
            break
        wait = min(deadline, drain_until) - now
        for key, _ in sel.select(timeout=min(wait, 0.05)):
            fd = key.fd
            if fd in writers:
                try:
                    sent = os.write(fd, writers[fd][:_CHUNK])
                except (BrokenPipeError, BlockingIOError) as exc:
                    sent = -1 if isinstance(exc, BrokenPipeError) else 0
                writers[fd] = writers[fd][max(sent, 0) :]
                if sent < 0 or not writers[fd]:
                    sel.unregister(fd)
                    del writers[fd]
                    if fd == ctl_w:
                        owned.discard(fd)
                        os.close(fd)
                    else:
                        proc.stdin.close()  # EOF for the program's stdin
            else:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    sel.unregister(fd)
                    continue
                readers[fd].feed(chunk)
                overflow = overflow or readers[fd].overflow
        if overflow:
            break
        if not exited and _exited(proc.pid):
            exited = True
            # Whatever it left in its group would keep our pipes open; kill it, then drain.
            _kill_group(proc.pid)
            drain_until = time.monotonic() + _DRAIN_AFTER_EXIT_S
    sel.close()

    # Kill the run's tasks while their parents live, so that they are reaped in the sandbox
    # rather than left as zombies of the machine's init.
    if not exited and (
        (cgroup is not None and cgroup.kill(timeout_s=0.2, spare=proc.pid))
        or (cgroup is None and signal_status and _kill_children(proc.pid))
    ):
        # The monitor exits once it has reaped them; the namespace's init exits only after
        # the kernel has killed and reaped everything else in the namespace.
        reaped_by = time.monotonic() + 2.0
        while not _exited(proc.pid) and time.monotonic() < reaped_by:
            time.sleep(0.002)
    if not exited and pidns:
        _ask_outer_to_stop(proc.pid)
    _kill_group(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    duration = time.monotonic() - start
    returncode = os.waitstatus_to_exitcode(status)
    if signal_status and 128 < returncode < 128 + signal.NSIG:
        # bwrap reports a command killed by signal N as exit status 128 + N.
        returncode = 128 - returncode
    proc.returncode = returncode  # reaped here (for rusage), so tell Popen
    cpu = usage.ru_utime + usage.ru_stime

    out, err, rep = (readers[fd] for fd in (proc.stdout.fileno(), proc.stderr.fileno(), rep_r))
    events = _parse_report(bytes(rep.data), nonce)
    status_name = _classify(
        returncode,
        timed_out=timed_out,
        overflow=out.overflow or err.overflow,
        memory=any(e.get("event") == "memory" for e in events),
        cpu=cpu,
        config=config,
    )
    if rep.overflow:
        status_name = "error"
    result = ExecutionResult(
        status=status_name,
        returncode=returncode,
        stdout=out.data.decode("utf-8", errors="replace"),
        stderr=err.data.decode("utf-8", errors="replace"),
        stdout_truncated=out.overflow,
        stderr_truncated=err.overflow,
        duration_s=round(duration, 4),
        cpu_s=round(cpu, 4),
    )
    return RawRun(result, events)


def _parse_report(data: bytes, nonce: str) -> list[dict[str, Any]]:
    """Keep only complete lines that carry this run's nonce; anything else is forged/garbage."""
    prefix = nonce.encode() + b" "
    events = []
    for line in data.split(b"\n")[:-1]:
        if not line.startswith(prefix):
            continue
        try:
            event = json.loads(line[len(prefix) :])
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _classify(
    returncode: int,
    *,
    timed_out: bool,
    overflow: bool,
    memory: bool,
    cpu: float,
    config: SandboxConfig,
) -> ExecutionStatus:
    if timed_out:
        return "timeout"
    if overflow:
        return "output_limit"
    if memory:
        return "memory"
    if returncode < 0:
        # SIGXCPU at the soft CPU limit; SIGKILL at the hard one (PID 1 of a namespace
        # ignores SIGXCPU, so there only the hard limit ends it).
        if -returncode == signal.SIGXCPU or (
            -returncode == signal.SIGKILL and cpu >= config.cpu_seconds * 0.95
        ):
            return "timeout"
        return "killed"
    if returncode != 0:
        return "error"
    return "ok"
