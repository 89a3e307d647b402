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


def count_user_tasks(uid: int) -> int:
    """Threads currently owned by real uid ``uid`` (what RLIMIT_NPROC counts), from /proc."""
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        owner = threads = None
        for line in text.splitlines():
            if line.startswith("Uid:"):
                owner = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if owner == uid and threads is not None:
            total += threads
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
        self._used_once: set[int] = set()

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
    def acquire(self, base: int, slots: int, python: str, reap_first: bool) -> Iterator[int]:
        """Yield a free uid; wait (up to a minute) while all are busy."""
        deadline = time.monotonic() + 60.0
        got = self._try_acquire(base, slots)
        while got is None:
            if time.monotonic() > deadline:
                raise SandboxError(f"no free sandbox uid in [{base}, {base + slots})")
            time.sleep(0.02)
            got = self._try_acquire(base, slots)
        uid, fd = got
        try:
            # Processes of a harness that crashed may still run under this uid.
            if reap_first and uid not in self._used_once:
                reap_uid(python, uid)
            self._used_once.add(uid)
            yield uid
        finally:
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
    """Poll until no task of ``uid`` is left (killed ones take a moment to be reaped)."""
    deadline = time.monotonic() + timeout_s
    while count_user_tasks(uid):
        if time.monotonic() > deadline:
            logger.warning("code sandbox: tasks of uid %d outlived the kill", uid)
            return False
        time.sleep(0.01)
    return True
