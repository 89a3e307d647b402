"""Child side of the code sandbox; its source runs as ``python -S -s -B -c <source> CTL REP``.

Not imported by the harness: the harness reads this file's text and hands it to a fresh
interpreter, so it may use only the standard library and must run on Python >= 3.9.

Protocol. The harness writes a JSON job spec to file descriptor ``CTL`` and closes it; the
spec holds a per-run secret ``nonce``. Everything the harness must trust (per-test results,
the end-of-tests sentinel) is written to descriptor ``REP`` as lines ``<nonce> <json>``.
Stdout and stderr belong to the submitted code. Code that merely exits early
(``os._exit(0)``, ``sys.exit(0)``) never produces the sentinel; code that digs the nonce out
of this process's memory could forge it, which in-process checking cannot prevent.

The layers installed here run inside the untrusted process, so they only back up the kernel
mechanisms set up by the harness (namespaces, uid, rlimits): an audit hook cannot stop native
code (ctypes) from making system calls directly.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import linecache
import os
import re
import signal
import sys
import traceback
from types import CodeType, TracebackType
from typing import Any

_MAX_ERROR_CHARS = 2000
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SETUP_NODES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
)
_SECRET_PROC_FILE = re.compile(r"^/proc/[^/]+/(task/[^/]+/)?(environ|mem)$")


class _Reporter:
    def __init__(self, fd: int, nonce: str) -> None:
        # Bound now: the submitted code may monkeypatch os/json before we report.
        self._fd, self._nonce = fd, nonce
        self._write, self._dumps = os.write, json.dumps

    def __call__(self, event: str, **fields: Any) -> None:
        data = (self._nonce + " " + self._dumps({"event": event, **fields}) + "\n").encode()
        try:
            while data:
                data = data[self._write(self._fd, data) :]
        except OSError:
            pass  # the code closed the descriptor: the harness then sees no sentinel


def _format_error(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:_MAX_ERROR_CHARS]


def _print_traceback(exc: BaseException) -> None:
    """Print ``exc``'s traceback without the bootstrap's own frames (filename ``<string>``)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    try:
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        sys.stderr.flush()
    except Exception:
        pass


def _compile(source: str, filename: str) -> CodeType:
    # Registering the text lets tracebacks show source lines although no file exists.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec", dont_inherit=True)


def _become_namespace_init() -> None:
    """Fork so that the submitted code runs as PID 1 of the new PID namespace.

    The harness unshared the namespace before exec, which affects only our children. When
    PID 1 exits the kernel kills every process left in the namespace, so nothing the code
    started can outlive it. This (outer) process only waits and relays the exit status.
    """
    pid = os.fork()
    if pid == 0:
        try:  # die with the outer process even if the code leaves its process group
            import ctypes

            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except Exception:
            pass
        return

    def kill_child(signum: int, frame: object) -> None:
        # The harness asks us (SIGTERM) to end the run. We kill PID 1 and reap it ourselves:
        # killed along with us, it would be reparented to the machine's init as a zombie,
        # which may reap it late, and until then it counts against the uid's RLIMIT_NPROC.
        try:  # only while unreaped, i.e. while the pid cannot belong to anyone else
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, kill_child)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


def _install_guards(tmpdir: str, network: bool, restrict_writes: bool, subprocs: bool) -> None:
    """Audit hook refusing network use, writes outside ``tmpdir`` and program execution."""
    root = os.path.realpath(tmpdir)
    allowed = {"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr"}
    realpath, fspath, fsdecode, readlink = (
        os.path.realpath,
        os.fspath,
        os.fsdecode,
        os.readlink,
    )
    net_events = {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
    exec_events = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"}
    # event -> positions of path arguments that must stay inside tmpdir, and of the dir_fd
    path_events = {
        "os.remove": ((0,), 1),
        "os.rmdir": ((0,), 1),
        "os.mkdir": ((0,), 2),
        "os.rename": ((0, 1), 2),
        "os.symlink": ((1,), 2),
        "os.link": ((0, 1), 2),  # a hard link to an outside file would make it writable
        "os.chmod": ((0,), 2),
        "os.chown": ((0,), 3),
        "os.truncate": ((0,), None),
        "os.utime": ((0,), 3),
        "os.setxattr": ((0,), None),
        "os.removexattr": ((0,), None),
    }
    busy = [False]

    def resolve(path: Any, dir_fd: Any = None) -> str | None:
        try:
            text = fsdecode(fspath(path))
            if text in allowed:
                return text
            # Audit events pass dir_fd=-1 for "relative to the working directory".
            if isinstance(dir_fd, int) and dir_fd >= 0 and not text.startswith("/"):
                text = readlink(f"/proc/self/fd/{dir_fd}") + "/" + text
            return realpath(text)  # follows symlinks, so a link cannot smuggle a path in
        except Exception:
            return None

    def inside(path: Any, dir_fd: Any = None) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: nothing to resolve
        real = resolve(path, dir_fd)
        return real is not None and (real == root or real.startswith(root + "/") or real in allowed)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if busy[0]:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                return
            busy[0] = True
            try:
                real = resolve(path)
            finally:
                busy[0] = False
            # Other processes' environments hold secrets; the kernel refuses them only when
            # the code runs under a uid of its own.
            if real is not None and _SECRET_PROC_FILE.match(real):
                raise PermissionError(f"sandbox: reading {real} is not allowed")
            writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")
            )
            if restrict_writes and writing and not inside(path):
                raise PermissionError(f"sandbox: writing outside the work dir: {path!r}")
        elif not network and event in net_events:
            raise PermissionError("sandbox: network access is disabled")
        elif not subprocs and event in exec_events:
            raise PermissionError("sandbox: starting programs is disabled")
        elif restrict_writes and event in path_events:
            positions, fd_pos = path_events[event]
            dir_fd = args[fd_pos] if fd_pos is not None and fd_pos < len(args) else None
            busy[0] = True
            try:
                ok = all(inside(args[i], dir_fd) for i in positions if i < len(args))
            finally:
                busy[0] = False
            if not ok:
                raise PermissionError(f"sandbox: {event} outside the work dir is not allowed")

    sys.addaudithook(hook)


def _run_script(code: str, report: _Reporter) -> None:
    try:
        compiled = _compile(code, "<main>")
        exec(compiled, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit:
        raise
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            report("memory")
        _print_traceback(exc)
        sys.exit(1)


def _test_units(tests: str | list[str]) -> list[tuple[str, str, CodeType | BaseException]]:
    """Split tests into ``(kind, source, code or compile error)`` units.

    A list gives one test per item. A string is split into its top-level statements so that
    each assertion is reported on its own; definitions, imports and assignments are setup.
    """
    if isinstance(tests, list):
        units: list[tuple[str, str, CodeType | BaseException]] = []
        for i, src in enumerate(tests):
            try:
                units.append(("test", src, _compile(src, f"<test {i}>")))
            except (SyntaxError, ValueError) as exc:
                units.append(("test", src, exc))
        return units
    try:
        _compile(tests, "<tests>")
        tree = ast.parse(tests, "<tests>")
    except (SyntaxError, ValueError) as exc:
        return [("setup", tests, exc)]
    units = []
    for stmt in tree.body:
        kind = "setup" if isinstance(stmt, _SETUP_NODES) else "test"
        module = ast.Module(body=[stmt], type_ignores=[])
        units.append(
            (
                kind,
                ast.get_source_segment(tests, stmt) or "",
                compile(module, "<tests>", "exec", dont_inherit=True),
            )
        )
    return units


def _run_tests(solution: str, tests: str | list[str], report: _Reporter) -> int:
    namespace: dict[str, Any] = {"__name__": "__solution__", "__builtins__": builtins}
    settrace, setprofile = sys.settrace, sys.setprofile
    units = _test_units(tests)
    # Announced first, so that tests a crash or timeout never reaches still show up as failed.
    report("plan", units=[{"kind": kind, "source": source} for kind, source, _ in units])
    try:
        exec(_compile(solution, "<solution>"), namespace)
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            report("memory")
        report("solution_error", error=_format_error(exc))
        _print_traceback(exc)
        return 1
    failed = False
    for index, (_, _, code) in enumerate(units):
        # A trace function installed by the solution could jump over assert lines.
        settrace(None)
        setprofile(None)
        error = None
        try:
            if isinstance(code, BaseException):
                raise code
            exec(code, namespace)
        except BaseException as exc:
            if isinstance(exc, MemoryError):
                report("memory")
            error = _format_error(exc)
            _print_traceback(exc)
        failed = failed or error is not None
        report("result", index=index, passed=error is None, error=error)
    report("done")
    return 1 if failed else 0


def main() -> None:
    """Read the job spec, confine the interpreter and run the submitted code."""
    ctl_fd, rep_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(ctl_fd, "rb") as fh:
        spec = json.loads(fh.read())
    report = _Reporter(rep_fd, spec.pop("nonce"))
    # `-c` put the working directory on sys.path; submitted code has nothing to import there.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    sys.argv = ["main.py"]
    if not hasattr(builtins, "exit"):  # -S skips `site`, which defines exit() and quit()
        vars(builtins).update(exit=sys.exit, quit=sys.exit)
    if spec["pidns"]:
        _become_namespace_init()
    _install_guards(spec["tmpdir"], spec["network"], spec["restrict_writes"], spec["subprocs"])
    if spec["mode"] == "script":
        _run_script(spec["code"], report)
        return
    status = _run_tests(spec["solution"], spec["tests"], report)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Skip interpreter shutdown: atexit hooks and threads of the solution get no say anymore.
    os._exit(status)


if __name__ == "__main__":
    main()
