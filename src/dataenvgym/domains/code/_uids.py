"""Sandbox uids: a pool of unprivileged uids, one per running execution, and their cleanup.

Used only when the harness runs as root (see :mod:`._isolation` for why a uid of its own makes
RLIMIT_NPROC bind and lets ``kill(-1)`` clean up everything an execution left behind).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

from dataenvgym.domains.code._isolation import PYTHON_FLAGS, SandboxError, base_env

logger = logging.getLogger(__name__)


def count_user_tasks(uid: int, *, zombies: bool = True) -> int:
    """Threads currently owned by real uid ``uid`` (what RLIMIT_NPROC counts), from /proc.

    With ``zombies=False``, only tasks that can still run: a zombie has exited and waits for
    its parent (often the machine's init, which reaps late) to collect its status.

    Reads ``status`` (world-readable even for processes that made themselves non-dumpable,
    whose ``/proc/<pid>`` directory then shows root as its owner).
    """
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                text = fh.read()
        except OSError:
            continue
        at = text.find(b"\nUid:\t")
        if at < 0 or int(text[at + 6 : text.index(b"\t", at + 6)]) != uid:
            continue
        if not zombies and b"\nState:\tZ" in text:
            continue
        at = text.find(b"\nThreads:\t")
        if at >= 0:
            total += int(text[at + 10 : text.index(b"\n", at + 10)])
    return total


class UidPool:
    """Hands out sandbox uids, one per running execution, across threads and processes.

    One uid per execution matters: RLIMIT_NPROC counts per uid, and the cleanup ``kill(-1)``
    hits every process of the uid. Cross-process exclusion uses ``flock`` on one file per uid
    in a root-owned directory; the lock dies with its holder, so a crashed harness frees it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._vetted: dict[int, bool] = {}
        self._stuck: dict[int, float] = {}  # uid -> when to try it again

    def _lock_dir(self) -> str | None:
        path = os.path.join(tempfile.gettempdir(), "dataenvgym-sandbox-uids")
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        st = os.lstat(path)
        # Refuse a directory someone else could have planted or could write into.
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            logger.warning("code sandbox: unsafe %s; uid locks are per-process only", path)
            return None
        return path

    def _usable(self, uid: int) -> bool:
        if uid not in self._vetted:
            try:
                pwd.getpwuid(uid)
                self._vetted[uid] = False  # a real account: never borrow it
            except KeyError:
                self._vetted[uid] = True
        return self._vetted[uid]

    def _try_acquire(self, base: int, slots: int) -> tuple[int, int | None] | None:
        lock_dir = self._lock_dir()
        with self._lock:
            for uid in range(base, base + slots):
                if uid in self._held or not self._usable(uid):
                    continue
                if self._stuck.get(uid, 0.0) > time.monotonic():
                    continue
                fd = None
                if lock_dir is not None:
                    fd = os.open(
                        os.path.join(lock_dir, f"{uid}.lock"),
                        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                        0o600,
                    )
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                self._held.add(uid)
                return uid, fd
        return None

    @contextlib.contextmanager
    def acquire(self, base: int, slots: int, python: str) -> Iterator[int]:
        """Yield a free uid with no process left on it; wait (up to a minute) while all are
        busy.

        A uid is handed out only once no task of it is alive: leftovers (of a crashed
        harness, or of an earlier run that escaped every other layer) are killed first, and
        a uid whose tasks will not die is skipped, so no run ever shares a uid, and thereby
        ``/proc`` access and signals, with anything of an earlier run.
        """
        deadline = time.monotonic() + 60.0
        while True:
            got = self._try_acquire(base, slots)
            if got is not None:
                uid, fd = got
                if self._empty(python, uid):
                    break
                with self._lock:
                    self._stuck[uid] = time.monotonic() + 10.0
                self._release(uid, fd)
                logger.warning("code sandbox: uid %d has tasks that will not die; skipped", uid)
            if time.monotonic() > deadline:
                raise SandboxError(f"no free sandbox uid in [{base}, {base + slots})")
            time.sleep(0.02)
        try:
            yield uid
        finally:
            self._release(uid, fd)

    @staticmethod
    def _empty(python: str, uid: int) -> bool:
        if not count_user_tasks(uid, zombies=False):
            return True
        reap_uid(python, uid)
        return wait_uid_empty(uid)

    def _release(self, uid: int, fd: int | None) -> None:
        with self._lock:
            self._held.discard(uid)
        if fd is not None:
            os.close(fd)


UID_POOL = UidPool()


def reap_uid(python: str, uid: int) -> None:
    """SIGKILL every process of ``uid`` by calling ``kill(-1)`` as that uid.

    ``kill(-1)`` reaches every process the caller may signal except itself, i.e. exactly the
    processes of that uid, however they regrouped. ``user=``/``group=`` make subprocess switch
    uid in C, without running Python in the forked child.
    """
    code = "import os\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    pass\n"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [python, *PYTHON_FLAGS, "-c", code],
            user=uid,
            group=uid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=base_env("/"),
            timeout=10,
            check=False,
        )


def wait_uid_empty(uid: int, timeout_s: float = 2.0) -> bool:
    """Poll until no live task of ``uid`` is left (killed ones take a moment to die)."""
    deadline = time.monotonic() + timeout_s
    while count_user_tasks(uid, zombies=False):
        if time.monotonic() > deadline:
            logger.warning("code sandbox: tasks of uid %d outlived the kill", uid)
            return False
        time.sleep(0.01)
    return True
