"""OS-level containment for the code sandbox made by hand: uid drop, rlimits, namespaces.

These are the mechanisms of the ``namespaces`` and ``uid`` levels (the fallback where
bubblewrap is missing; see :mod:`._bwrap`), and the ``preexec`` that every level uses to join
the run's cgroup, drop to its uid and set its rlimits. Which of them work is probed in
:mod:`._probe`.

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
import signal
import sys
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
    cgroup_procs: tuple[bytes, ...] = (),
) -> Callable[[], None]:
    """Build the ``preexec_fn`` that confines the child between ``fork`` and ``exec``.

    Order matters: the run's cgroup first and namespaces next (joining a root-owned cgroup
    and creating namespaces as root need the privileges we are about to drop), then the
    read-only mounts (same reason), then the uid (``setuid`` clears
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
        cgroup_procs: ``cgroup.procs`` files of the run's cgroup(s) to join.
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
        for procs in cgroup_procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # "0" is the writing process itself
            finally:
                os.close(fd)
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
