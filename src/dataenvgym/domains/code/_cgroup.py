"""One control group per sandboxed execution: a total memory and process cap, and a kill that
reaches every process the execution started.

Rlimits are per process: ten children of a run may each use the whole ``RLIMIT_AS``, and pages
of a ``memfd`` written with ``write()`` are not in any address space at all. A cgroup counts
all of them (anonymous memory, shared memory, tmpfs pages, kernel memory the kernel charges)
against one limit, and its process list names every task of the run, wherever it moved in
the process tree. Both cgroup hierarchies are supported:

* **v2** (unified): a child of the harness's own cgroup, with ``memory.max``,
  ``memory.swap.max = 0``, ``memory.oom.group = 1`` (an out-of-memory kill takes the whole
  run), ``pids.max``; killed at once with ``cgroup.kill``. Needs ``memory`` and ``pids``
  enabled (or enableable) in the parent's ``cgroup.subtree_control``, and write access: root,
  or a delegated subtree.
* **v1** (legacy, as in many container hosts): one child in the ``memory`` hierarchy and one
  in the ``pids`` hierarchy, each under the harness's own cgroup there; killed by reading
  ``cgroup.procs`` and signalling each task through a pidfd taken before re-checking that the
  task is still in the group, until the group is empty (``pids.max`` bounds the race with
  ``fork``).

Whether either works is probed once per process by creating and removing a cgroup.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_MOUNTINFO = "/proc/self/mountinfo"
_COUNTER = itertools.count()
_Mount = tuple[str, str, str, set[str]]  # root, mount point, fstype, super options


@dataclass(frozen=True)
class CgroupSupport:
    """Where run cgroups are created, as probed.

    Attributes:
        version: 1 or 2.
        memory_parent: Directory under which each run's memory cgroup is made (v2: the one
            cgroup holding every controller).
        pids_parent: Same for the ``pids`` controller (equal to ``memory_parent`` on v2).
    """

    version: int
    memory_parent: str
    pids_parent: str

    def describe(self) -> str:
        """One line for reports."""
        if self.version == 2:
            return f"cgroup v2 under {self.memory_parent}"
        return f"cgroup v1 under {self.memory_parent} and {self.pids_parent}"


def _mounts() -> list[_Mount]:
    """``(root, mount point, fstype, super options)`` of every cgroup mount."""
    found = []
    try:
        with open(_MOUNTINFO, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """The harness's cgroup per controller (``""`` for the v2 hierarchy)."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def _join(mount_root: str, mount_point: str, path: str) -> str | None:
    """The directory of cgroup ``path`` under a mount of the hierarchy's ``mount_root``."""
    if mount_root != "/" and not (path == mount_root or path.startswith(mount_root + "/")):
        return None  # our cgroup is outside what this mount shows
    rel = path[len(mount_root) :] if mount_root != "/" else path
    return os.path.join(mount_point, rel.lstrip("/"))


def _read(path: str) -> str:
    with open(path, encoding="ascii") as fh:
        return fh.read()


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def _try_mkdir(parent: str) -> bool:
    probe = os.path.join(parent, f"dataenvgym-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        os.rmdir(probe)
    return True


def _probe_v2(mounts: list[_Mount], own: dict[str, str]) -> str | None:
    for root, point, fstype, _ in mounts:
        if fstype != "cgroup2" or "" not in own:
            continue
        parent = _join(root, point, own[""])
        if parent is None or not os.path.isdir(parent):
            continue
        try:
            if not {"memory", "pids"} <= set(_read(f"{parent}/cgroup.controllers").split()):
                continue
            enabled = set(_read(f"{parent}/cgroup.subtree_control").split())
            missing = {"memory", "pids"} - enabled
            if missing:
                # Fails (EBUSY) where the parent holds processes and is not the root.
                _write(f"{parent}/cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
        except OSError:
            continue
        if _try_mkdir(parent):
            return parent
    return None


def _probe_v1(
    mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]
) -> tuple[str, str] | None:
    parents: dict[str, str] = {}
    for controller in ("memory", "pids"):
        for root, point, fstype, options in mounts:
            if fstype != "cgroup" or controller not in options or controller not in own:
                continue
            parent = _join(root, point, own[controller])
            if parent and os.path.isdir(parent) and _try_mkdir(parent):
                parents[controller] = parent
                break
    if len(parents) != 2:
        return None
    return parents["memory"], parents["pids"]


@functools.cache
def probe_cgroups() -> tuple[CgroupSupport | None, str]:
    """Probe (once per process) whether per-run cgroups can be made here.

    Returns:
        The support found (``None`` if none) and a line saying what was found or why not.
    """
    if not os.path.isdir("/sys/fs/cgroup"):
        return None, "no cgroup file system"
    mounts, own = _mounts(), _own_paths()
    v2 = _probe_v2(mounts, own)
    if v2 is not None:
        support = CgroupSupport(2, v2, v2)
        return support, support.describe()
    v1 = _probe_v1(mounts, own)
    if v1 is not None:
        support = CgroupSupport(1, v1[0], v1[1])
        return support, support.describe()
    return None, (
        "no writable cgroup with the memory and pids controllers (needs root or a delegated cgroup)"
    )


class RunCgroup:
    """The cgroup(s) of one execution. Create, join from ``preexec``, kill, remove."""

    def __init__(self, support: CgroupSupport, *, memory_bytes: int, max_tasks: int) -> None:
        """Create the run's cgroup(s) with the limits.

        Raises:
            OSError: The cgroup could not be created or limited (it is removed again).
        """
        self.support = support
        name = f"dataenvgym-{os.getpid()}-{next(_COUNTER)}"
        if support.version == 2:
            self.dirs: tuple[str, ...] = (os.path.join(support.memory_parent, name),)
        else:
            self.dirs = (
                os.path.join(support.memory_parent, name),
                os.path.join(support.pids_parent, name),
            )
        made: list[str] = []
        try:
            for path in self.dirs:
                os.mkdir(path)
                made.append(path)
            memory, pids = self.dirs[0], self.dirs[-1]
            if support.version == 2:
                _write(f"{memory}/memory.max", str(memory_bytes))
                for name_, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
                    with contextlib.suppress(OSError):
                        _write(f"{memory}/{name_}", value)
            else:
                _write(f"{memory}/memory.limit_in_bytes", str(memory_bytes))
                with contextlib.suppress(OSError):  # only where swap accounting is on
                    _write(f"{memory}/memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(f"{pids}/pids.max", str(max_tasks))
        except OSError:
            for path in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            raise

    @property
    def procs_files(self) -> tuple[bytes, ...]:
        """``cgroup.procs`` paths a child writes ``0`` to, to join (pre-encoded for preexec)."""
        return tuple(os.fsencode(f"{path}/cgroup.procs") for path in self.dirs)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a task of the run for going over the memory limit."""
        name = "memory.events" if self.support.version == 2 else "memory.oom_control"
        try:
            text = _read(f"{self.dirs[0]}/{name}")
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in _read(f"{path}/cgroup.procs").split())
        return pids

    def _in_group(self, pid: int) -> bool:
        return pid in self._pids()

    def kill(self, timeout_s: float = 5.0, *, spare: int | None = None) -> bool:
        """SIGKILL every task of the run and wait until none is left.

        Args:
            timeout_s: How long to keep killing before giving up.
            spare: A task to leave alive (the harness's direct child, so that it reaps its
                own children instead of leaving them to the machine's init as zombies).

        Returns:
            Whether the cgroup emptied (but for ``spare``) within ``timeout_s``.
        """
        kill_file = f"{self.dirs[0]}/cgroup.kill"
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self._pids() - {spare}
            if not pids:
                return True
            if time.monotonic() > deadline:
                logger.warning("code sandbox: cgroup %s did not empty", self.dirs[0])
                return False
            if spare is None and self.support.version == 2 and os.path.exists(kill_file):
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
            else:
                for pid in pids:
                    self._kill_one(pid)
            time.sleep(0.002)

    def _kill_one(self, pid: int) -> None:
        # Pin the process with a pidfd, then check it is still ours: between reading the
        # list and signalling, the pid could have been freed and reused by someone else.
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            if self._in_group(pid):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup directories."""
        self.kill()
        for path in self.dirs:
            for _ in range(200):  # rmdir is refused until the last task is fully gone
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)
            else:
                logger.warning("code sandbox: could not remove cgroup %s", path)
