"""OS-level containment for the code sandbox: probing, uid slots, rlimits, namespaces.

What this machine allows is probed once per process by launching tiny interpreters with each
mechanism, because the answer depends on the kernel, the container runtime, seccomp filters
and file permissions rather than on anything we can read cheaply:

* **Privilege drop.** The kernel does not apply RLIMIT_NPROC to root, so a fork bomb run as
  root is bounded by nothing but the wall clock. When the harness is root, every execution
  therefore runs under its own unprivileged uid from a pool (``uid_base`` ...), which makes
  RLIMIT_NPROC bind, makes file permissions protect root-owned files, and lets us kill every
  leftover process of the execution with ``kill(-1)`` issued as that uid. The interpreter must
  be reachable by that uid (a pyenv under ``/root`` is not), so we probe candidates.
* **Namespaces.** A new network namespace (only a down loopback inside) blocks all networking
  at the kernel level. A new PID namespace makes the submitted program PID 1 of its own tree,
  so when it dies the kernel kills every process it left behind, including ones that called
  ``setsid()`` to leave our process group. A new mount namespace in which every mount is
  read-only except a bind mount of the execution's temporary directory makes writes anywhere
  else fail with EROFS, even from native code and even in world-writable ``/tmp``. Non-root
  harnesses need a user namespace for all three.

Everything that runs in the forked child before ``exec`` (``preexec``) is restricted to plain
system calls whose wrappers are resolved in the parent, because ``preexec_fn`` runs in a child
forked from a possibly multi-threaded process, where taking a lock could deadlock.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 1
# mount_setattr(2) (Linux 5.12) has the same number on every architecture of the unified table.
SYS_MOUNT_SETATTR = 442

#: Interpreter flags for every sandboxed run: no ``site`` (no site-packages, no .pth hooks),
#: no user site, no bytecode files. ``-E``/``-I`` are not used because they would also drop
#: PYTHONHASHSEED; the environment is built from scratch instead, so nothing leaks in.
PYTHON_FLAGS = ("-S", "-s", "-B")

_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the code it ran): launch errors, no free uid, ..."""


def base_env(home: str) -> dict[str, str]:
    """The complete environment of a sandboxed process: an allowlist, never the parent's."""
    return {
        "PATH": _SAFE_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUTF8": "1",
        "HOME": home,
        "TMPDIR": home,
    }


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare.argtypes = [ctypes.c_int]
        libc.unshare.restype = ctypes.c_int
        libc.prctl.restype = ctypes.c_int
        libc.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_void_p,
        ]
        libc.mount.restype = ctypes.c_int
        libc.syscall.restype = ctypes.c_long
    except (OSError, AttributeError):
        return None
    return libc


@dataclass(frozen=True)
class Rlimit:
    """One resource limit to set in the child."""

    resource: int
    soft: int
    hard: int


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def make_preexec(
    *,
    ns_flags: int,
    uid: int | None,
    limits: tuple[Rlimit, ...],
    niceness: int = 0,
    writable_dir: str | None = None,
) -> Callable[[], None]:
    """Build the ``preexec_fn`` that confines the child between ``fork`` and ``exec``.

    Order matters: namespaces first (creating them as root needs the capabilities we are
    about to drop), then the read-only mounts (same reason), then the uid (``setuid`` clears
    capabilities and, being a credential change, the parent-death signal), then the rlimits
    (lowering needs no privilege), then the parent-death signal so the tree dies with the
    harness thread that launched it.

    Args:
        ns_flags: ``CLONE_NEW*`` flags for ``unshare``.
        uid: Uid (and gid) to switch to, or ``None`` to keep the harness's.
        limits: Rlimits to set.
        niceness: Increment for ``nice``.
        writable_dir: With ``CLONE_NEWNS`` in ``ns_flags``: make every mount read-only except
            a bind mount of this directory (which must be the working directory).
    """
    libc = _libc()
    unshare = libc.unshare if libc is not None else None
    prctl = libc.prctl if libc is not None else None
    parent = os.getpid()
    # Everything the child needs is allocated here, in the parent.
    wdir = writable_dir.encode() if writable_dir is not None else None
    set_ro, clear_ro = (
        _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0),
        _MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0),
    )
    set_ref, clear_ref = ctypes.byref(set_ro), ctypes.byref(clear_ro)
    attr_size = ctypes.c_size_t(ctypes.sizeof(_MountAttr))
    nr, at_cwd = ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD)

    def check(rc: int, what: str) -> None:
        if rc != 0:
            raise OSError(ctypes.get_errno(), what)

    def readonly_except_wdir() -> None:
        assert libc is not None and wdir is not None
        # Private first: our changes must not propagate back to the host's mounts.
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")
        check(
            libc.syscall(nr, at_cwd, b"/", ctypes.c_uint(AT_RECURSIVE), set_ref, attr_size),
            "mount_setattr ro",
        )
        # A bind mount copies the (now read-only) flags of its source; clear them on it alone.
        check(libc.mount(wdir, wdir, None, MS_BIND, None), "bind work dir")
        check(libc.syscall(nr, at_cwd, wdir, ctypes.c_uint(0), clear_ref, attr_size), "rw")
        os.chdir(wdir)  # the old cwd points at the read-only mount underneath

    def preexec() -> None:
        if ns_flags:
            if unshare is None or unshare(ns_flags) != 0:
                raise OSError(ctypes.get_errno(), "unshare failed")
            if ns_flags & CLONE_NEWNS and wdir is not None:
                readonly_except_wdir()
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        for lim in limits:
            resource.setrlimit(lim.resource, (lim.soft, lim.hard))
        if niceness:
            os.nice(niceness)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the harness died before prctl took effect
                os._exit(137)

    return preexec


def clamp_limits(wanted: list[tuple[int, int, int]]) -> tuple[Rlimit, ...]:
    """Limits no higher than the harness's own hard limits (an unprivileged child cannot raise
    a hard limit, and trying would make ``setrlimit`` fail in ``preexec``)."""
    out = []
    for res, soft, hard in wanted:
        _, parent_hard = resource.getrlimit(res)
        if parent_hard != resource.RLIM_INFINITY and os.geteuid() != 0:
            hard = min(hard, parent_hard)
            soft = min(soft, hard)
        out.append(Rlimit(res, soft, hard))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Probing


@dataclass(frozen=True)
class Isolation:
    """The containment this process can give executions, as probed."""

    python: str
    running_as_root: bool
    uid_drop: bool
    ns_flags: int  # includes CLONE_NEWNS only when the read-only mount setup works
    notes: tuple[str, ...]

    @property
    def pidns(self) -> bool:
        return bool(self.ns_flags & CLONE_NEWPID)

    @property
    def namespaces(self) -> list[str]:
        names = [
            ("user", CLONE_NEWUSER),
            ("net", CLONE_NEWNET),
            ("pid", CLONE_NEWPID),
            ("mount", CLONE_NEWNS),
        ]
        return [name for name, flag in names if self.ns_flags & flag]

    @property
    def nproc_enforced(self) -> bool:
        return self.uid_drop or not self.running_as_root


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


@functools.cache
def resolve_isolation(
    python_executable: str | None,
    drop_privileges: bool,
    use_namespaces: bool,
    uid_base: int,
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
        )
    if not root:
        notes.append(
            "not root: RLIMIT_NPROC counts all processes of this user, so the limit is set "
            "to the current count plus max_processes"
        )
    iso = Isolation(python, bool(root), uid_drop, ns_flags, tuple(notes))
    for note in notes:
        logger.info("code sandbox: %s", note)
    return iso
