"""Probe, once per process, which containment the code sandbox can give on this machine.

The answer depends on the kernel, the container runtime, seccomp filters, installed tools
and file permissions rather than on anything cheap to read, so each mechanism is tried by
launching a tiny interpreter with it. Levels, strongest first (see :attr:`Isolation.level`):

* ``bwrap``: bubblewrap (:mod:`._bwrap`): fresh namespaces of every kind, fresh ``/proc``,
  minimal read-only file system, size-capped tmpfs work dir. Works without root.
* ``namespaces``: namespaces set up by hand in ``preexec`` (:mod:`._isolation`): network,
  PID and a read-only view of the host file system; host ``/proc`` stays visible.
* ``uid``: no namespaces, but (root only) a dedicated unprivileged uid per execution.
* ``rlimits``: rlimits, process group and the in-process audit hook only.

Orthogonal to the level, a per-run cgroup (:mod:`._cgroup`) adds a total memory and process
cap and a kill that reaches every task, where a writable one exists (root, or a delegated
subtree); and when the harness is root, every execution also runs under its own uid.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dataenvgym.domains.code._bwrap import bwrap_argv, find_bwrap, interpreter_roots
from dataenvgym.domains.code._cgroup import CgroupSupport, probe_cgroups
from dataenvgym.domains.code._isolation import (
    _SAFE_PATH,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    PYTHON_FLAGS,
    _libc,
    base_env,
    make_preexec,
)

logger = logging.getLogger(__name__)

#: Namespaces ``bwrap --unshare-all`` creates.
BWRAP_NAMESPACES = ("user", "pid", "net", "mount", "ipc", "uts", "cgroup")


@dataclass(frozen=True)
class Isolation:
    """The containment this process can give executions, as probed.

    Attributes:
        python: Interpreter that runs the code (its real path at the ``bwrap`` level).
        running_as_root: Whether the harness has euid 0.
        uid_drop: Whether each execution gets its own unprivileged uid (root only).
        ns_flags: Hand-made namespaces (``namespaces`` level); includes ``CLONE_NEWNS`` only
            when the read-only mount setup works. Unused at the ``bwrap`` level.
        notes: What is weaker than the strongest setup, in words.
        bwrap: The ``bwrap`` executable when that level is in force.
        python_roots: Host directories (besides ``/usr``) bound read-only for the interpreter.
        cgroup: Where per-run cgroups are made, if anywhere.
    """

    python: str
    running_as_root: bool
    uid_drop: bool
    ns_flags: int
    notes: tuple[str, ...]
    bwrap: str | None = None
    python_roots: tuple[str, ...] = ()
    cgroup: CgroupSupport | None = None

    @property
    def level(self) -> Literal["bwrap", "namespaces", "uid", "rlimits"]:
        """``bwrap``, ``namespaces``, ``uid`` or ``rlimits`` (see the module docstring)."""
        if self.bwrap is not None:
            return "bwrap"
        if self.ns_flags & ~CLONE_NEWUSER:
            return "namespaces"
        return "uid" if self.uid_drop else "rlimits"

    @property
    def pidns(self) -> bool:
        """Whether the hand-made setup gives a PID namespace (the bootstrap then forks)."""
        return self.bwrap is None and bool(self.ns_flags & CLONE_NEWPID)

    @property
    def namespaces(self) -> list[str]:
        """Namespaces every execution gets."""
        if self.bwrap is not None:
            return list(BWRAP_NAMESPACES)
        names = [
            ("user", CLONE_NEWUSER),
            ("net", CLONE_NEWNET),
            ("pid", CLONE_NEWPID),
            ("mount", CLONE_NEWNS),
        ]
        return [name for name, flag in names if self.ns_flags & flag]

    @property
    def nproc_enforced(self) -> bool:
        """Whether a process limit binds the code (the kernel exempts root's own uid)."""
        return (
            self.cgroup is not None
            or self.uid_drop
            or not self.running_as_root
            or (self.bwrap is not None)
        )


# A child reaching `exec` is not enough: the interpreter must start and import what the
# bootstrap needs, as the sandbox uid (stdlib under /root is unreadable to it, for example).
_PROBE_CODE = "import sys, json, ast, linecache, traceback; assert sys.version_info >= (3, 9)"


def _probe(argv: list[str], preexec: Callable[[], None]) -> bool:
    try:
        proc = subprocess.run(
            argv,
            preexec_fn=preexec,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=base_env("/"),
            start_new_session=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


_FS_PROBE_CODE = (
    "import os\n"
    "open('ok', 'w').write('x')\n"
    "try:\n"
    "    open(os.path.join(os.path.dirname(os.getcwd()), 'escape'), 'w')\n"
    "except OSError:\n"
    "    pass\n"
    "else:\n"
    "    raise SystemExit(3)\n"
)


def _probe_readonly_fs(python: str, ns_flags: int, uid: int | None) -> bool:
    """Whether the read-only mount setup works and leaves exactly the work dir writable."""
    with tempfile.TemporaryDirectory(prefix="dataenvgym-probe-") as outer:
        work = os.path.join(outer, "work")
        os.mkdir(work)
        if uid is not None:
            os.chown(outer, uid, uid)  # so that only the mount, not permissions, can refuse
            os.chown(work, uid, uid)
        pre = make_preexec(ns_flags=ns_flags | CLONE_NEWNS, uid=uid, limits=(), writable_dir=work)
        ok = _probe([python, *PYTHON_FLAGS, "-c", _FS_PROBE_CODE], pre)
        return ok and os.path.exists(os.path.join(work, "ok"))


def _interpreter_candidates(configured: str | None) -> list[str]:
    if configured:
        return [configured]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    names = [
        sys.executable,
        getattr(sys, "_base_executable", ""),
        os.path.realpath(sys.executable),
        f"/usr/bin/{version}",
        f"/usr/local/bin/{version}",
        shutil.which(version, path=_SAFE_PATH) or "",
    ]
    seen: list[str] = []
    for name in names:
        if name and name not in seen and os.path.isfile(name):
            seen.append(name)
    return seen


def _probe_bwrap(bwrap: str, python: str, uid: int | None) -> tuple[tuple[str, ...], str | None]:
    """Run the probe code under the full ``bwrap`` setup; ``(roots, None)`` or ``(_, why)``."""
    real, roots = interpreter_roots(python)
    argv = bwrap_argv(
        bwrap, python_roots=roots, workdir="/tmp/dataenvgym-probe", disk_mb=4, network=False
    )
    argv += ["--", real, *PYTHON_FLAGS, "-c", _PROBE_CODE]
    try:
        proc = subprocess.run(
            argv,
            preexec_fn=make_preexec(ns_flags=0, uid=uid, limits=()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
            env=base_env("/"),
            start_new_session=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return roots, str(exc)
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return roots, f"exit status {proc.returncode}: {why[0]}"
    return roots, None


@functools.cache
def resolve_isolation(
    python_executable: str | None,
    drop_privileges: bool,
    use_namespaces: bool,
    uid_base: int,
    use_bwrap: bool = True,
    bwrap_executable: str | None = None,
    use_cgroups: bool = True,
) -> Isolation:
    """Probe (once per argument tuple) which containment mechanisms work here."""
    notes: list[str] = []
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    candidates = _interpreter_candidates(python_executable)
    python: str | None = None
    uid_drop = False
    probe_uid = uid_base
    if root and drop_privileges:
        for cand in candidates:
            pre = make_preexec(ns_flags=0, uid=probe_uid, limits=())
            if _probe([cand, *PYTHON_FLAGS, "-c", _PROBE_CODE], pre):
                python, uid_drop = cand, True
                break
        if not uid_drop:
            notes.append(
                "running as root but no interpreter works under an unprivileged uid "
                f"(tried {candidates}); RLIMIT_NPROC does not bind root, so a fork bomb is "
                "bounded only by the PID namespace and the wall-clock timeout"
            )
    elif root:
        notes.append("privilege drop disabled: RLIMIT_NPROC does not bind root")
    if python is None:
        python = candidates[0] if candidates else sys.executable
    if python != sys.executable:
        notes.append(f"submitted code runs on {python}, not the harness's {sys.executable}")

    cgroup: CgroupSupport | None = None
    if use_cgroups:
        cgroup, found = probe_cgroups()
        if cgroup is None:
            notes.append(
                f"{found}: memory is capped per process (RLIMIT_AS), not per run, and "
                "memfd / shared-memory pages are bounded only by RLIMIT_FSIZE x open files"
            )
    else:
        notes.append("cgroups disabled: memory is capped per process (RLIMIT_AS) only")

    bwrap = find_bwrap(bwrap_executable) if use_bwrap and use_namespaces else None
    if use_bwrap and use_namespaces and bwrap is None:
        notes.append("bubblewrap (bwrap) not found: falling back to hand-made namespaces")
    if bwrap is not None:
        roots, why = _probe_bwrap(bwrap, python, probe_uid if uid_drop else None)
        if why is None:
            iso = Isolation(
                os.path.realpath(python),
                bool(root),
                uid_drop,
                0,
                tuple(notes),
                bwrap,
                roots,
                cgroup,
            )
            for note in notes:
                logger.info("code sandbox: %s", note)
            return iso
        notes.append(f"bubblewrap cannot sandbox here ({why}): falling back")

    ns_flags = 0
    if use_namespaces and _libc() is not None:
        user = 0 if root else CLONE_NEWUSER
        for flags in (user | CLONE_NEWNET | CLONE_NEWPID, user | CLONE_NEWNET, user | CLONE_NEWPID):
            pre = make_preexec(ns_flags=flags, uid=probe_uid if uid_drop else None, limits=())
            if _probe([python, *PYTHON_FLAGS, "-c", "pass"], pre):
                ns_flags = flags
                break
        if ns_flags and _probe_readonly_fs(python, ns_flags, probe_uid if uid_drop else None):
            ns_flags |= CLONE_NEWNS
    if not ns_flags & CLONE_NEWNS:
        notes.append(
            "no read-only mount namespace: writes outside the work dir are refused by "
            + ("file permissions (sandbox uid) and " if uid_drop else "")
            + "the audit hook only"
        )
    if not ns_flags & CLONE_NEWNET:
        notes.append(
            "no network namespace: networking is blocked only by the in-process audit hook, "
            "which native code (ctypes) can bypass"
        )
    if not ns_flags & CLONE_NEWPID:
        notes.append(
            "no PID namespace: leftovers are killed via the process group"
            + (" and kill(-1) as the sandbox uid" if uid_drop else "; setsid() escapes it")
            + (" and the run's cgroup" if cgroup is not None else "")
        )
    notes.append(
        "no bubblewrap: the host's /proc stays visible (other processes' command lines), "
        "host unix sockets are reachable, the work dir is on the host's disk (files capped "
        "one by one by RLIMIT_FSIZE, not in total)"
        + ("" if uid_drop else ", and the user's home directory is readable")
    )
    if not root:
        notes.append(
            "not root: RLIMIT_NPROC counts all processes of this user, so the limit is set "
            "to the current count plus max_processes"
        )
    iso = Isolation(python, bool(root), uid_drop, ns_flags, tuple(notes), None, (), cgroup)
    for note in notes:
        logger.info("code sandbox: %s", note)
    return iso
