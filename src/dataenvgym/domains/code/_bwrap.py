"""The bubblewrap layer of the code sandbox: the command line that confines one execution.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, Debian package
``bubblewrap``) builds a sandbox from unprivileged user namespaces, so it confines code the
same way whether the harness is root or not. Each execution gets:

* ``--unshare-all``: new user, PID, network, IPC, UTS and cgroup namespaces, so no network at
  all (abstract unix sockets included), no other process visible or signallable;
* ``--proc /proc``: a fresh procfs showing only the execution's own processes;
* ``--die-with-parent``, ``--new-session`` and ``--as-pid-1``: the command is the PID
  namespace's init and dies when the ``bwrap`` process the harness started dies; with the
  init the kernel kills every process of the namespace, whatever it did to its parent-death
  signal or its session;
* a minimal file system: an empty read-only root with ``/usr`` (and the merged-``/usr``
  links), the interpreter's own prefix and a few ``/etc`` files read-only, a fresh ``/dev``
  read-only, a size-limited tmpfs as the working directory (under ``/tmp``; the disk cap,
  and the only writable place besides a small tmpfs on ``/dev/shm``). No home directory,
  no project, no run folders, no host unix sockets.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

#: Host files the interpreter or the C library may read; bound read-only where present.
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
#: Top-level directories that are links into ``/usr`` on merged-``/usr`` systems.
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: Inside the sandbox: the parent of the working directory (read-only itself).
INNER_TMP = "/tmp"
_SHM_CAP_MB = 16


def find_bwrap(configured: str | None) -> str | None:
    """The ``bwrap`` executable to use, or ``None`` if there is none."""
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap") or shutil.which("bwrap", path="/usr/bin:/usr/local/bin:/bin")


@functools.cache
def interpreter_roots(python: str) -> tuple[str, tuple[str, ...]]:
    """The interpreter's real path and the host directories it needs besides ``/usr``.

    Asks the interpreter (``-S``, so no site-packages) for its ``base_prefix`` and
    ``base_exec_prefix``; a virtual environment's ``python`` is a link to a base interpreter,
    whose prefix holds the standard library.
    """
    real = os.path.realpath(python)
    roots = {os.path.dirname(real)}
    try:
        out = subprocess.run(
            [
                real,
                "-S",
                "-s",
                "-B",
                "-c",
                "import sys; print(sys.base_prefix); print(sys.base_exec_prefix)",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        ).stdout.split("\n")
        roots.update(p for p in out[:2] if p)
    except (OSError, subprocess.SubprocessError):
        pass
    outside = sorted(r for r in roots if r != "/" and not (r == "/usr" or r.startswith("/usr/")))
    # Drop nested roots: binding a parent binds its children.
    kept = [r for r in outside if not any(r != o and r.startswith(o + "/") for o in outside)]
    return real, tuple(kept)


def bwrap_argv(
    bwrap: str,
    *,
    python_roots: tuple[str, ...],
    workdir: str,
    disk_mb: int,
    network: bool,
) -> list[str]:
    """The ``bwrap`` options (without the command) for one execution.

    Args:
        bwrap: Path of the ``bwrap`` executable.
        python_roots: Host directories outside ``/usr`` to bind read-only (the interpreter's).
        workdir: Working directory inside the sandbox (under :data:`INNER_TMP`).
        disk_mb: Size of the writable tmpfs mounted on ``workdir``.
        network: Share the host's network namespace instead of an empty one.
    """
    # --as-pid-1: the command is the namespace's init, and bwrap's monitor reaps it. (With
    # bwrap's own init, the monitor exits on a message from it without reaping it, and the
    # orphan lingers as a zombie of the sandbox uid until the machine's init collects it.)
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1"]
    if network:
        argv.append("--share-net")
    argv += ["--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr"]
    for name in _ROOT_LINKS:
        path = "/" + name
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        argv += ["--ro-bind-try", path, path]
    for root in python_roots:
        argv += ["--ro-bind", root, root]
    shm_mb = max(1, min(_SHM_CAP_MB, disk_mb))
    argv += [
        "--size", str(disk_mb << 20), "--perms", "0700", "--tmpfs", workdir,
        "--size", str(shm_mb << 20), "--perms", "1777", "--tmpfs", "/dev/shm",
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--chdir", workdir,
    ]  # fmt: skip
    return argv
